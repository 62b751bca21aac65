"""Shared test fixtures: where the bundled clips live, and the truth that comes with them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
SESSIONS = FIXTURES / "sessions"


@pytest.fixture(scope="session")
def sessions_dir() -> Path:
    """Folder of the rendered prone sessions (copied from ../shared; see PROVENANCE.md)."""
    return SESSIONS


def load_truth(clip: str) -> dict[str, Any]:
    """Ground truth of a rendered clip (truth.json)."""
    return json.loads((SESSIONS / clip / "truth.json").read_text())
