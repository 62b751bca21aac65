"""Batch test fixtures: the pre/post clips measured alone, once per session."""

from __future__ import annotations

from typing import Any

import pytest
from batch_data import CAMERA, PLANES, TARGET

from fixture_data import SESSIONS
from sotmeasure.geometry.layout import load_layout
from sotmeasure.geometry.profile import load_profile
from sotmeasure.processing import load_setup, measure_video, resolve_params


@pytest.fixture(scope="session")
def alone() -> dict[str, dict[str, Any]]:
    """measure_video on each clip directly (the `measure` path): the reference numbers."""
    params = resolve_params(mode="markerless", setup=load_setup(PLANES))
    layout, profile = load_layout(TARGET), load_profile(CAMERA)
    return {
        clip: measure_video(SESSIONS / clip / "video.mp4", layout, profile, params).to_dict()
        for clip in ("pre_block", "post_block")
    }
