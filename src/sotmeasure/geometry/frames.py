"""Reading frames for calibration commands: a video file or a folder of images.

Calibration needs only still images in order, not the capture layer's timing or
recording metadata, so this stays a small reader of its own (OpenCV decoding) that
yields (index, image) and can skip frames cheaply with `grab()`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.errors import GeometryError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")


class FramesError(GeometryError):
    """The video or image folder given for calibration cannot be read."""


@dataclass(frozen=True)
class FrameFiles:
    """An opened video or image folder: how many frames, and how to read them."""

    path: Path
    count: int
    images: tuple[Path, ...] = ()

    def read(self, stride: int = 1) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
        """Yield (index, BGR image) of every `stride`-th frame."""
        stride = max(1, stride)
        if self.images:
            for index in range(0, len(self.images), stride):
                img = cv2.imread(str(self.images[index]), cv2.IMREAD_COLOR)
                if img is None:
                    raise FramesError(f"cannot read image {self.images[index]}")
                yield index, np.asarray(img, dtype=np.uint8)
            return
        cap = cv2.VideoCapture(str(self.path))
        try:
            index = 0
            while True:
                if index % stride:
                    if not cap.grab():
                        return
                else:
                    ok, img = cap.read()
                    if not ok:
                        return
                    yield index, np.asarray(img, dtype=np.uint8)
                index += 1
        finally:
            cap.release()


def open_frames(path: str | Path) -> FrameFiles:
    """A video file or a folder of images (sorted by name); FramesError if unreadable."""
    path = Path(path)
    if path.is_dir():
        images = tuple(sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES))
        if not images:
            raise FramesError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {path}")
        return FrameFiles(path=path, count=len(images), images=images)
    if not path.is_file():
        raise FramesError(f"video or image folder not found: {path}")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise FramesError(f"cannot open video {path}")
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        ok, _ = cap.read()
        if not ok:
            raise FramesError(f"video {path} has no readable frame")
    finally:
        cap.release()
    return FrameFiles(path=path, count=max(count, 1))


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
