"""The one pose-estimator interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import numpy.typing as npt

from sotmeasure.closing import ClosesOnExit
from sotmeasure.pose.types import PoseLandmarks


class PoseEstimator(ClosesOnExit, ABC):
    """Image in, one person's named landmarks out (or None when nobody is found).

    A context manager because real backends hold native resources (MediaPipe graphs)
    that must be released deterministically, not at garbage collection.
    """

    @property
    @abstractmethod
    def model_name(self) -> str:
        """File name of the model, for provenance."""

    @property
    @abstractmethod
    def model_sha256(self) -> str:
        """sha256 of the model file, for provenance (same file, same numbers)."""

    @abstractmethod
    def estimate(self, image_bgr: npt.NDArray[np.uint8], t_ms: int) -> PoseLandmarks | None:
        """Landmarks in `image_bgr` pixels, or None when no person is found.

        `t_ms` is the frame time in milliseconds; sequence (video) backends require it to
        increase strictly from call to call.
        """

    def estimate_all(self, image_bgr: npt.NDArray[np.uint8], t_ms: int) -> list[PoseLandmarks]:
        """Every person the backend finds (at most its configured number), most confident
        first. Backends that find one person answer with that one."""
        one = self.estimate(image_bgr, t_ms)
        return [] if one is None else [one]

    def estimate_all_rgb(self, image_rgb: npt.NDArray[np.uint8], t_ms: int) -> list[PoseLandmarks]:
        """`estimate_all` of an image already in RGB order (what MediaPipe takes), so that
        the conversion can be made ahead, in another thread (PosePipeline.model_input)."""
        return self.estimate_all(np.ascontiguousarray(image_rgb[..., ::-1]), t_ms)

    @abstractmethod
    def close(self) -> None:
        """Release native resources. Safe to call twice."""
