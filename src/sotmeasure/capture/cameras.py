"""Which cameras this machine sees, with the resolution each gives by default.

The page lets a clinic choose a room's camera from this list (docs/web.md, "Setups"). On
Linux the device nodes are listed first (/dev/video*), so no OpenCV backend is probed for
an index that does not exist; a node that does not open (a metadata node) is left out.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import cv2


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """A camera the server can open, and its default mode."""

    spec: str  # device path (Linux) or index, as SOTMEASURE_CAMERA_SOURCE takes it
    width: int
    height: int
    fps: float | None


def _candidates(max_devices: int) -> list[str]:
    if sys.platform.startswith("linux"):
        nodes = sorted(Path("/dev").glob("video*"), key=lambda p: (len(p.name), p.name))
        return [str(p) for p in nodes[:max_devices]]
    return [str(i) for i in range(max_devices)]


def list_cameras(max_devices: int = 8) -> list[CameraInfo]:
    """The cameras that open and give a size; an empty list when there are none."""
    found: list[CameraInfo] = []
    for spec in _candidates(max_devices):
        cap = cv2.VideoCapture(int(spec) if spec.isdigit() else spec)
        try:
            if not cap.isOpened():
                continue
            width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            fps = float(cap.get(cv2.CAP_PROP_FPS)) or None
        finally:
            cap.release()
        if width > 0 and height > 0:
            found.append(CameraInfo(spec, width, height, fps))
    return found
