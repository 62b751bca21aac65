"""The one frame-source interface that webcams, videos, image folders and recordings share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sotmeasure.capture.frame import Frame
from sotmeasure.closing import ClosesOnExit


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What a source says about itself once open (actual values, not requested ones)."""

    kind: str  # "webcam" | "video" | "images" | "recording"
    description: str  # path or device, for provenance and messages
    width: int
    height: int
    fps: float | None  # None where the source has no nominal rate (image folders)
    frame_count: int | None  # None where unknown in advance (webcams)


class FrameSource(ClosesOnExit, ABC):
    """An iterator of `Frame`s that is also a context manager.

    Opening happens in the constructor so that a missing camera or a broken file
    fails at once with a named `CaptureError`, not at the first iteration.
    """

    @property
    @abstractmethod
    def info(self) -> SourceInfo:
        """Actual resolution, rate and length of the open source."""

    @abstractmethod
    def __iter__(self) -> Iterator[Frame]:
        """Yield frames in order; raise a `CaptureError` subclass on failure."""

    def frames_where(self, keep: Callable[[int], bool]) -> Iterator[Frame]:
        """The frames whose index `keep` accepts, in order: what `iter(self)` yields of
        them, image for image. Sources that can pass over a frame more cheaply than by
        delivering it (a video file: decoded but never converted to BGR) override this;
        the table pose of a measurement takes 8 frames of a clip this way."""
        return (f for f in self if keep(f.index))

    @abstractmethod
    def close(self) -> None:
        """Release the device or file. Safe to call twice."""
