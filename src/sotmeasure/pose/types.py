"""Typed pose results: named landmarks and per-frame landmark arrays with checked shapes.

Other areas never index landmarks by bare numbers; they use `Landmark.LEFT_HEEL` etc.
Left/right are the patient's anatomical sides, as MediaPipe labels them (it labels by the
body it sees, not by image side, so a prone patient seen from behind keeps correct sides).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

N_LANDMARKS = 33


class Landmark(IntEnum):
    """The 33 BlazePose / MediaPipe pose landmarks, in model output order."""

    NOSE = 0
    LEFT_EYE_INNER = 1
    LEFT_EYE = 2
    LEFT_EYE_OUTER = 3
    RIGHT_EYE_INNER = 4
    RIGHT_EYE = 5
    RIGHT_EYE_OUTER = 6
    LEFT_EAR = 7
    RIGHT_EAR = 8
    MOUTH_LEFT = 9
    MOUTH_RIGHT = 10
    LEFT_SHOULDER = 11
    RIGHT_SHOULDER = 12
    LEFT_ELBOW = 13
    RIGHT_ELBOW = 14
    LEFT_WRIST = 15
    RIGHT_WRIST = 16
    LEFT_PINKY = 17
    RIGHT_PINKY = 18
    LEFT_INDEX = 19
    RIGHT_INDEX = 20
    LEFT_THUMB = 21
    RIGHT_THUMB = 22
    LEFT_HIP = 23
    RIGHT_HIP = 24
    LEFT_KNEE = 25
    RIGHT_KNEE = 26
    LEFT_ANKLE = 27
    RIGHT_ANKLE = 28
    LEFT_HEEL = 29
    RIGHT_HEEL = 30
    LEFT_FOOT_INDEX = 31
    RIGHT_FOOT_INDEX = 32


@dataclass(frozen=True, slots=True)
class PoseLandmarks:
    """One person's 33 landmarks in the pixel frame of the image given to the estimator.

    `points_px` use the OpenCV convention (x right, y down, (0,0) = centre of the top-left
    pixel). `visibility` is the model's own score in [0, 1]. `in_frame` is OUR check that
    the point lies inside the image (with a margin): the model keeps reporting high
    visibility for heels that have left the image, so visibility alone is not enough.
    `segmentation` (optional) is the model's person mask in [0, 1], image-sized.
    """

    points_px: npt.NDArray[np.float64]
    visibility: npt.NDArray[np.float64]
    in_frame: npt.NDArray[np.bool_]
    image_size: tuple[int, int]  # (width, height) of the image the points refer to
    segmentation: npt.NDArray[np.float32] | None = None

    def __post_init__(self) -> None:
        if self.points_px.shape != (N_LANDMARKS, 2):
            raise ValueError(f"points_px must be ({N_LANDMARKS}, 2), got {self.points_px.shape}")
        if self.visibility.shape != (N_LANDMARKS,):
            raise ValueError(f"visibility must be ({N_LANDMARKS},), got {self.visibility.shape}")
        if self.in_frame.shape != (N_LANDMARKS,) or self.in_frame.dtype != np.bool_:
            raise ValueError(f"in_frame must be a bool array ({N_LANDMARKS},)")
        w, h = self.image_size
        if self.segmentation is not None and self.segmentation.shape != (h, w):
            raise ValueError(
                f"segmentation must be ({h}, {w}) like the image, got {self.segmentation.shape}"
            )

    def px(self, landmark: Landmark) -> npt.NDArray[np.float64]:
        """The (2,) pixel position of one named landmark."""
        return self.points_px[int(landmark)]

    def vis(self, landmark: Landmark) -> float:
        """The model's visibility score of one named landmark."""
        return float(self.visibility[int(landmark)])

    def inside(self, landmark: Landmark) -> bool:
        """Whether one named landmark lies inside the image (our own bounds check)."""
        return bool(self.in_frame[int(landmark)])


def points_in_frame(
    points_px: npt.NDArray[np.float64], image_size: tuple[int, int], margin_px: float
) -> npt.NDArray[np.bool_]:
    """True where a point lies at least `margin_px` inside the image borders."""
    w, h = image_size
    x, y = points_px[:, 0], points_px[:, 1]
    m = margin_px
    inside = (x >= m) & (x <= w - 1 - m) & (y >= m) & (y <= h - 1 - m)
    return np.asarray(inside & np.isfinite(x) & np.isfinite(y), dtype=np.bool_)
