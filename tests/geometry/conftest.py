"""Session fixtures for the geometry tests."""

from __future__ import annotations

import pytest
from geometry_fixtures import TARGETS

from sotmeasure.geometry.layout import TargetLayout, load_layout


@pytest.fixture(scope="session")
def table_layout() -> TargetLayout:
    """The shipped 8-marker table layout (the layout of every rendered table clip)."""
    return load_layout(TARGETS / "table_8_markers.json")
