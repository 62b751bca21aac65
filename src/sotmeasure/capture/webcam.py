"""Frames from a live camera, with what was asked for and what the driver gave."""

from __future__ import annotations

import logging
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from sotmeasure.capture.base import FrameSource, SourceInfo
from sotmeasure.capture.errors import CameraNotFoundError, FrameReadError
from sotmeasure.capture.frame import Frame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Negotiated:
    """Requested vs actual capture settings: drivers silently pick the nearest mode."""

    requested_width: int | None
    requested_height: int | None
    requested_fps: float | None
    width: int
    height: int
    fps: float | None

    @property
    def matches_request(self) -> bool:
        """True when every requested value was granted (fps within 0.5 frame/s)."""
        return (
            (self.requested_width is None or self.requested_width == self.width)
            and (self.requested_height is None or self.requested_height == self.height)
            and (
                self.requested_fps is None
                or (self.fps is not None and abs(self.requested_fps - self.fps) <= 0.5)
            )
        )


def _device_spec(device: int | str | Path) -> int | str:
    """Normalise '0' to 0 and check on Linux that the device node exists.

    Checking /dev/video* first is what keeps a missing camera from costing seconds
    of backend probing: OpenCV tries every backend and some of them wait.
    """
    if isinstance(device, Path):
        device = str(device)
    if isinstance(device, str) and device.strip().isdigit():
        device = int(device.strip())
    if isinstance(device, int):
        if device < 0:
            raise CameraNotFoundError(f"camera index must be >= 0, got {device}")
        if sys.platform.startswith("linux") and not Path(f"/dev/video{device}").exists():
            raise CameraNotFoundError(
                f"camera {device} not found (/dev/video{device} does not exist)"
            )
        return device
    if sys.platform.startswith("linux") and not Path(device).exists():
        raise CameraNotFoundError(f"camera device {device} does not exist")
    return device


class WebcamSource(FrameSource):
    """A camera by index (0) or device path (/dev/video0).

    `t_s` is monotonic time since the camera was opened, so dropped frames show up
    as gaps in time rather than being hidden. `negotiated` holds requested vs actual
    width, height and fps. Iteration runs until `close()` or a read failure.
    """

    def __init__(
        self,
        device: int | str | Path,
        width: int | None = None,
        height: int | None = None,
        fps: float | None = None,
    ) -> None:
        spec = _device_spec(device)
        self.device = spec
        api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        cap = cv2.VideoCapture(spec, api)
        if not cap.isOpened():
            cap.release()
            raise CameraNotFoundError(f"cannot open camera {spec} (busy, or not a video device)")
        if width is not None:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height is not None:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps is not None:
            cap.set(cv2.CAP_PROP_FPS, fps)
        self._cap: cv2.VideoCapture | None = cap
        self._t0 = time.monotonic()
        first = self._grab(cap)
        if first is None:
            self.close()
            raise CameraNotFoundError(f"camera {spec} opened but delivered no frame")
        self._first: Frame | None = first
        actual_fps = float(cap.get(cv2.CAP_PROP_FPS))
        self.negotiated = Negotiated(
            requested_width=width,
            requested_height=height,
            requested_fps=fps,
            width=first.width,
            height=first.height,
            fps=actual_fps if math.isfinite(actual_fps) and actual_fps > 0 else None,
        )
        if not self.negotiated.matches_request:
            log.warning("camera %s: requested vs actual settings: %s", spec, self.negotiated)
        self._info = SourceInfo(
            kind="webcam",
            description=str(spec),
            width=first.width,
            height=first.height,
            fps=self.negotiated.fps,
            frame_count=None,
        )
        self._next_index = 1

    @property
    def info(self) -> SourceInfo:
        return self._info

    def _grab(self, cap: cv2.VideoCapture, index: int = 0) -> Frame | None:
        ok, image = cap.read()
        t_s = time.monotonic() - self._t0
        if not ok or image is None:
            return None
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return Frame(image=np.ascontiguousarray(image, dtype=np.uint8), index=index, t_s=t_s)

    def __iter__(self) -> Iterator[Frame]:
        if self._first is not None:
            yield self._first
            self._first = None
        while self._cap is not None:
            frame = self._grab(self._cap, self._next_index)
            if frame is None:
                if self._cap is None:  # closed while we were waiting
                    return
                raise FrameReadError(
                    f"camera {self.device} stopped delivering frames after {self._next_index}"
                )
            self._next_index += 1
            yield frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._first = None
