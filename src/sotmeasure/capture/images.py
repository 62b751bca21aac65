"""Frames from a folder of still images (an exported sequence, a burst of photos)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.capture.base import FrameSource, SourceInfo
from sotmeasure.capture.errors import FrameReadError, ImageFolderError
from sotmeasure.capture.frame import Frame

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})

_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """Sort key so that frame2.png comes before frame10.png (as a person numbers them)."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part.lower())
        for part in _DIGITS.split(name)
        if part
    )


def list_images(folder: Path) -> list[Path]:
    """The image files of a folder in natural order (hidden files skipped)."""
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    ]
    return sorted(files, key=lambda p: natural_key(p.name))


def read_image(path: Path) -> npt.NDArray[np.uint8]:
    """Read one image as 8-bit BGR, or raise `FrameReadError` naming the file."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FrameReadError(f"cannot read image {path} (corrupt or not an image)")
    return np.ascontiguousarray(image, dtype=np.uint8)


class ImageFolderSource(FrameSource):
    """Images of a folder in natural order as frames.

    With `fps`, `t_s = index / fps`. Without it the sequence has no time base:
    `info.fps` is None and `t_s` counts frames (1.0 per frame), so a consumer that
    needs real time can tell and ask for a rate instead of trusting invented seconds.
    Every image must have the size of the first one.
    """

    def __init__(self, path: str | Path, fps: float | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise ImageFolderError(f"image folder not found: {self.path}")
        if fps is not None and not fps > 0:
            raise ImageFolderError(f"frame rate must be positive, got {fps}")
        self.files = list_images(self.path)
        if not self.files:
            raise ImageFolderError(
                f"no images in {self.path} (looked for {', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        first = read_image(self.files[0])
        height, width = first.shape[:2]
        self._fps = fps
        self._info = SourceInfo(
            kind="images",
            description=str(self.path),
            width=width,
            height=height,
            fps=fps,
            frame_count=len(self.files),
        )
        self.frames_read = 0

    @property
    def info(self) -> SourceInfo:
        return self._info

    def __iter__(self) -> Iterator[Frame]:
        self.frames_read = 0
        for index, file in enumerate(self.files):
            image = read_image(file)
            if image.shape[:2] != (self._info.height, self._info.width):
                raise FrameReadError(
                    f"image {file} is {image.shape[1]}x{image.shape[0]}, but the sequence "
                    f"started at {self._info.width}x{self._info.height}"
                )
            t_s = index / self._fps if self._fps is not None else float(index)
            self.frames_read = index + 1
            yield Frame(image=image, index=index, t_s=t_s)

    def close(self) -> None:
        """Nothing to release: each image is read and closed as it is needed."""
