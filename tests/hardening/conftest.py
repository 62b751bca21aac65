"""Fixtures of the hardening tests (real `sotmeasure serve` processes; hardening_helpers)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hardening_helpers import postgres_database, postgres_unavailable


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind: a SQLite file, or a fresh PostgreSQL database
    (skipped, with the reason, where PostgreSQL does not answer)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    reason = postgres_unavailable()
    if reason:
        pytest.skip(reason)
    with postgres_database() as url:
        yield url
