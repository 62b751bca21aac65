"""Shared test fixtures (plain helpers live in fixture_data.py, importable by name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixture_data import SESSIONS


@pytest.fixture(scope="session")
def sessions_dir() -> Path:
    """Folder of the rendered prone sessions (copied from ../shared; see PROVENANCE.md)."""
    return SESSIONS
