"""Rules that keep the whole suite collectable in one run (CI runs it all at once)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).parent


def test_no_test_imports_from_conftest_by_name() -> None:
    """Several folders have a conftest.py; `from conftest import` binds to whichever pytest
    imported first, so a test passes alone and fails in the full run. Use a uniquely named
    helper module instead (fixture_data.py, pose_clip_data.py)."""
    offenders = [
        str(p.relative_to(TESTS))
        for p in TESTS.rglob("*.py")
        if re.search(r"^\s*(from conftest import|import conftest)", p.read_text(), re.M)
    ]
    assert offenders == []


def test_test_file_names_are_unique() -> None:
    """Test folders have no __init__.py, so two test files with one name break collection."""
    names = [p.name for p in TESTS.rglob("test_*.py")]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    assert duplicates == []
