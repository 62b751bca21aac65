"""Pose test helpers: clip truth, true caudal direction, frames and one pipeline run per clip.

A plain module (not conftest.py) so test files can import it by a unique name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from sotmeasure.capture.frame import Frame
from sotmeasure.pose.pipeline import FramePoints, PosePipeline

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SESSIONS = FIXTURES / "sessions"
FRAME_STEP = 2  # every 2nd frame keeps the session's model time low


def clip_truth(clip: str) -> dict[str, Any]:
    return json.loads((SESSIONS / clip / "truth.json").read_text())


def caudal_dir_px(clip: str) -> np.ndarray:
    """Image direction of table +x at the heels, projected with the clip's true camera.

    In the product the caller gets this from the table pose; here the true camera stands in
    for it, so the pose tests do not depend on the geometry area.
    """
    cam = json.loads((SESSIONS / clip / "camera.json").read_text())
    heel_mm = np.array(clip_truth(clip)["frame0"]["points_mm"]["heel_L"], dtype=np.float64)
    pts = np.stack([heel_mm, heel_mm + np.array([10.0, 0.0, 0.0])])
    px, _ = cv2.projectPoints(
        pts,
        np.array(cam["rvec"], dtype=np.float64),
        np.array(cam["t_table_to_cam_mm"], dtype=np.float64),
        np.array(cam["K"], dtype=np.float64),
        np.array(cam["dist"], dtype=np.float64),
    )
    v = px.reshape(2, 2)[1] - px.reshape(2, 2)[0]
    return v / np.linalg.norm(v)


def read_frames(clip: str, step: int = FRAME_STEP) -> list[Frame]:
    cap = cv2.VideoCapture(str(SESSIONS / clip / "video.mp4"))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames: list[Frame] = []
    i = 0
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            if i % step == 0:
                frames.append(Frame(img, i, i / fps))
            i += 1
    finally:
        cap.release()
    assert frames, f"no frames decoded from {clip}"
    return frames


@dataclass(frozen=True)
class ClipRun:
    clip: str
    truth: dict[str, Any]
    caudal: np.ndarray
    results: list[FramePoints]


MARKERLESS_CLIPS = (
    "pre_block",
    "post_block",
    "rotated_body",
    "oblique_distorted",
    "stickers",
    "hard_roll",
    "tight_framing",
)
CAMERA_BEYOND_FEET = {"oblique_distorted"}  # from camera.json placement: oblique from the feet


def run_clip(clip: str, mode: str) -> ClipRun:
    caudal = caudal_dir_px(clip)
    with PosePipeline(
        mode=mode,  # type: ignore[arg-type]
        caudal_dir_px=caudal,
        camera_beyond_feet=clip in CAMERA_BEYOND_FEET,
    ) as pipe:
        results = [pipe.process(f) for f in read_frames(clip)]
    return ClipRun(clip, clip_truth(clip), caudal, results)


def pixels_to_table_mm(clip: str, points_px: np.ndarray, z_mm: float) -> np.ndarray:
    """Table-plane (x, y) mm of pixels on the plane z = z_mm, with the clip's TRUE camera.

    The true camera stands in for the geometry area's table pose, so that the pose tests
    judge the pose points alone (as the measurement will map them: rays to a plane).
    """
    cam = json.loads((SESSIONS / clip / "camera.json").read_text())
    k = np.array(cam["K"], dtype=np.float64)
    dist = np.array(cam["dist"], dtype=np.float64)
    rot = np.array(cam["R_table_to_cam"], dtype=np.float64)
    t = np.array(cam["t_table_to_cam_mm"], dtype=np.float64)
    und = cv2.undistortPoints(np.asarray(points_px, np.float64).reshape(-1, 1, 2), k, dist)
    rays = np.c_[und.reshape(-1, 2), np.ones(len(und))] @ rot  # camera rays in table axes
    centre = -rot.T @ t
    scale = (z_mm - centre[2]) / rays[:, 2]
    return (centre + scale[:, None] * rays)[:, :2]
