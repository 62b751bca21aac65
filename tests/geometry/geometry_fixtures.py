"""Geometry test helpers: clip truth, true-camera profiles, a few decoded frames per clip."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.frames import read_frames
from sotmeasure.geometry.profile import CameraProfile

ROOT = Path(__file__).resolve().parents[2]
SESSIONS = ROOT / "tests" / "fixtures" / "sessions"
TARGETS = ROOT / "calibration" / "targets"
PROFILES = ROOT / "calibration" / "profiles"

FRAMES_PER_CLIP = 6
# hard_roll: the patient rolls from 1.2 s; the pose window and the truth frames are taken
# before that (the camera is still throughout, but the brief's window is the still part).
HARD_ROLL_END_S = 1.2


def camera_json(clip: str) -> dict[str, Any]:
    return json.loads((SESSIONS / clip / "camera.json").read_text())


def truth_json(clip: str) -> dict[str, Any]:
    return json.loads((SESSIONS / clip / "truth.json").read_text())


def true_profile(clip: str) -> CameraProfile:
    """The renderer's true intrinsics of a clip as a profile (the 'true intrinsics profile')."""
    cam = camera_json(clip)
    return CameraProfile(
        name=f"true camera of {clip}",
        image_size_px=(int(cam["width"]), int(cam["height"])),
        matrix=np.array(cam["K"], dtype=np.float64),
        distortion=np.array(cam["dist"], dtype=np.float64),
        rms_reprojection_px=0.0,
        created_utc="2025-01-01T00:00:00Z",
        board="renderer ground truth (camera.json)",
    )


@cache
def clip_frames(clip: str) -> tuple[npt.NDArray[np.uint8], ...]:
    """A few frames spread over the clip (before the roll for hard_roll)."""
    truth = truth_json(clip)
    n = int(truth["n_frames"])
    last = n - 1
    if clip == "hard_roll":
        last = int(HARD_ROLL_END_S * float(truth["fps"])) - 1
    idx = sorted({round(float(v)) for v in np.linspace(0, last, FRAMES_PER_CLIP)})
    return tuple(read_frames(SESSIONS / clip / "video.mp4", idx))
