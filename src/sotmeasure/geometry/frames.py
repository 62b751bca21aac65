"""Frames for the calibration commands, through the capture layer's `open_source`.

Calibration needs still images in order, not timing: this wraps `open_source` (a video
file, a folder of images, or a recording folder; never a webcam here, a calibration is
made from a file) and yields (index, image), every `stride`-th frame. Capture errors
(`CaptureError`, a `SotmeasureError`) pass through unchanged: they already say what is
wrong with the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from sotmeasure.capture.open import open_source, source_kind
from sotmeasure.geometry.errors import GeometryError


class FramesError(GeometryError):
    """The video or image folder given for calibration cannot be used."""


@dataclass(frozen=True)
class FrameFiles:
    """A video, image folder or recording to read for calibration."""

    path: Path
    count: int

    def read(self, stride: int = 1) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
        """Yield (index, BGR image) of every `stride`-th frame."""
        stride = max(1, stride)
        with open_source(self.path) as source:
            for frame in source:
                if frame.index % stride == 0:
                    yield frame.index, frame.image


def open_frames(path: str | Path) -> FrameFiles:
    """Check `path` is a readable video, image folder or recording; count its frames."""
    path = Path(path)
    if not path.exists():
        raise FramesError(f"video or image folder not found: {path}")
    if source_kind(path) == "webcam":
        raise FramesError(f"{path} is a camera; calibrate from a recorded video or images")
    with open_source(path) as source:
        count = source.info.frame_count
    if count is None:
        count = sum(1 for _ in FrameFiles(path, 0).read())
    if count <= 0:
        raise FramesError(f"{path} holds no frames")
    return FrameFiles(path=path, count=count)


def read_frames(
    path: str | Path, indices: list[int] | None = None, *, max_frames: int | None = None
) -> list[npt.NDArray[np.uint8]]:
    """Selected frames of a video or folder as a list (for a pose window: a few frames).

    `indices` picks exact frames; otherwise `max_frames` spread evenly, or all.
    """
    frames = open_frames(path)
    if indices is None:
        n = frames.count if max_frames is None else min(frames.count, max_frames)
        indices = sorted({round(float(v)) for v in np.linspace(0, frames.count - 1, n)})
    wanted = set(indices)
    out: dict[int, npt.NDArray[np.uint8]] = {}
    for index, img in frames.read():
        if index in wanted:
            out[index] = img
            if len(out) == len(wanted):
                break
    missing = sorted(wanted - set(out))
    if missing:
        raise FramesError(f"{path}: frames {missing[:5]} could not be read")
    return [out[i] for i in indices]
