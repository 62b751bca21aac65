"""The unit that flows from every frame source into the pose pipeline."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured image with where it sits in its stream.

    `t_s` is the capture time in seconds from the start of the stream (for a video
    file: its presentation time; for a webcam: monotonic time since opening; for a
    recording: the timestamp written when it was recorded). Keeping time with the
    frame lets the measurement use real time windows even when frames were dropped.
    """

    image: npt.NDArray[np.uint8]
    index: int
    t_s: float

    def __post_init__(self) -> None:
        img = self.image
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
            raise TypeError("Frame.image must be a numpy uint8 array (BGR)")
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"Frame.image must be HxWx3 BGR, got shape {img.shape}")
        if self.index < 0:
            raise ValueError("Frame.index must be >= 0")

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    @property
    def height(self) -> int:
        return int(self.image.shape[0])
