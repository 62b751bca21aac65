"""Shared inputs of the robustness tests: the first frame of the fixture clip pre_block."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from fixture_data import SESSIONS

PRE = SESSIONS / "pre_block"


@pytest.fixture(scope="session")
def frame0() -> np.ndarray:
    """pre_block's first frame (BGR), as the bench's image changes get it."""
    cap = cv2.VideoCapture(str(PRE / "video.mp4"))
    ok, img = cap.read()
    cap.release()
    assert ok
    return img
