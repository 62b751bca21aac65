"""Pose test fixtures: the model runs over each rendered clip once per test session."""

from __future__ import annotations

import pytest
from pose_clip_data import MARKERLESS_CLIPS, ClipRun, run_clip


@pytest.fixture(scope="session")
def markerless_runs() -> dict[str, ClipRun]:
    """Markerless pipeline over every 2nd frame of each rendered clip (once per session)."""
    return {clip: run_clip(clip, "markerless") for clip in MARKERLESS_CLIPS}


@pytest.fixture(scope="session")
def sticker_run() -> ClipRun:
    """Sticker pipeline (no pose model) over every 2nd frame of the stickers clip."""
    return run_clip("stickers", "stickers")
