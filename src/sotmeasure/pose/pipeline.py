"""Frame in, the patient's heel and hip points out (or the reason there are none).

Markerless: rotate head-up, run the pose model, map back, refine both heels at full
resolution, check visibility and image bounds. Stickers: find the coloured discs on heels
and PSIS, label them left/right from the body geometry; no pose model needed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

import numpy as np
import numpy.typing as npt

from sotmeasure.capture.frame import Frame
from sotmeasure.pose import quality as q
from sotmeasure.pose.estimator import PoseEstimator
from sotmeasure.pose.heel_refine import HeelRefineParams, refine_heel
from sotmeasure.pose.mediapipe_backend import MediaPipePoseEstimator
from sotmeasure.pose.orientation import QuarterTurn, unit_vector
from sotmeasure.pose.stickers import (
    HEEL_GREEN,
    PSIS_BLUE,
    StickerBlobParams,
    StickerColour,
    find_stickers,
    label_pair,
    patient_right_dir,
)
from sotmeasure.pose.types import Landmark, PoseLandmarks, points_in_frame

log = logging.getLogger(__name__)

Mode = Literal["markerless", "stickers"]
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BodyPoints:
    """The four points a measurement needs, in full-frame pixels, patient's sides.

    Markerless: heels = refined caudal heel extremities (see `heel_status`), hips = the
    model's hip landmarks (hip joint centres as the model estimates them). Stickers: heels
    = heel sticker centres, hips = PSIS sticker centres.
    `heel_status[side]` is "refined-edge", "refined-mask", "sticker" or
    "raw-landmark (<reason>)".
    """

    heel_left_px: FloatArray
    heel_right_px: FloatArray
    hip_left_px: FloatArray
    hip_right_px: FloatArray
    heel_status: dict[str, str]
    mode: Mode

    def __post_init__(self) -> None:
        for name in ("heel_left_px", "heel_right_px", "hip_left_px", "hip_right_px"):
            v = getattr(self, name)
            if np.shape(v) != (2,) or not np.all(np.isfinite(v)):
                raise ValueError(f"{name} must be a finite (2,) point, got {v!r}")
        if set(self.heel_status) != {"left", "right"}:
            raise ValueError("heel_status needs exactly the keys 'left' and 'right'")


@dataclass(frozen=True, slots=True)
class FramePoints:
    """One frame's result: points, or the reason the frame was rejected (never both)."""

    index: int
    t_s: float
    points: BodyPoints | None
    rejection: str | None
    landmarks: PoseLandmarks | None = None

    def __post_init__(self) -> None:
        if (self.points is None) == (self.rejection is None):
            raise ValueError("a FramePoints has either points or a rejection reason")


@dataclass(frozen=True, slots=True)
class PipelineParams:
    """Thresholds of the per-frame gates and the heel search."""

    min_visibility: float = q.DEFAULT_MIN_VISIBILITY
    in_frame_margin_px: float = q.DEFAULT_IN_FRAME_MARGIN_PX
    heel: HeelRefineParams = field(default_factory=HeelRefineParams)
    blobs: StickerBlobParams = field(default_factory=StickerBlobParams)


class PosePipeline:
    """Per-frame anatomical points for a prone patient.

    `caudal_dir_px`: unit image direction toward the feet (the caller derives it from the
    table pose: `TablePose.table_direction_px(at, (1, 0))`). It fixes the head-up rotation,
    the heel search direction and, in sticker mode, which side is the patient's right.
    `camera_beyond_feet`: True for an oblique camera placed beyond the foot end. The
    plantar side of the heel then faces the camera and its caudal extremity lies inside
    the foot's silhouette, so the outline cannot give it: heels stay raw landmarks and
    say so in their status.
    A pipeline that creates its own estimator owns and closes it (use `with`).
    """

    def __init__(
        self,
        mode: Mode = "markerless",
        caudal_dir_px: npt.ArrayLike = (1.0, 0.0),
        estimator: PoseEstimator | None = None,
        heel_colour: StickerColour = HEEL_GREEN,
        psis_colour: StickerColour = PSIS_BLUE,
        rotate_head_up: bool = True,
        refine_heels: bool = True,
        camera_beyond_feet: bool = False,
        params: PipelineParams | None = None,
    ) -> None:
        if mode not in ("markerless", "stickers"):
            raise ValueError(f"mode must be 'markerless' or 'stickers', got {mode!r}")
        self.mode: Mode = mode
        self.caudal_dir_px = unit_vector(caudal_dir_px)
        self.right_dir_px = patient_right_dir(self.caudal_dir_px)
        self.heel_colour = heel_colour
        self.psis_colour = psis_colour
        self.rotate_head_up = rotate_head_up
        self.refine_heels = refine_heels
        self.camera_beyond_feet = camera_beyond_feet
        self.params = params or PipelineParams()
        self._owns_estimator = estimator is None and mode == "markerless"
        if self._owns_estimator:
            estimator = MediaPipePoseEstimator(running_mode="video", output_segmentation=True)
        self.estimator = estimator
        self._last_t_ms: int | None = None

    # -- context manager -------------------------------------------------------------
    def close(self) -> None:
        """Close the estimator if this pipeline created it."""
        if self._owns_estimator and self.estimator is not None:
            self.estimator.close()

    def __enter__(self) -> PosePipeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- per frame -----------------------------------------------------------------
    def _next_t_ms(self, t_s: float) -> int:
        # VIDEO mode needs strictly increasing integer ms; two frames within one ms
        # (or a clock step back) get the next ms rather than an error mid-measurement.
        t = round(t_s * 1000.0)
        if self._last_t_ms is not None and t <= self._last_t_ms:
            t = self._last_t_ms + 1
        self._last_t_ms = t
        return t

    def _infer(
        self, image: npt.NDArray[np.uint8], t_s: float
    ) -> tuple[PoseLandmarks | None, npt.NDArray[np.uint8], QuarterTurn]:
        """Model landmarks in the head-up image, that image, and the turn that made it."""
        if self.estimator is None:
            raise ValueError("this pipeline has no pose estimator")
        size = (int(image.shape[1]), int(image.shape[0]))
        turn = (
            QuarterTurn.head_up(self.caudal_dir_px, size)
            if self.rotate_head_up
            else QuarterTurn(0, size)
        )
        upright = turn.apply(image)
        return self.estimator.estimate(upright, self._next_t_ms(t_s)), upright, turn

    def _to_original(self, lm: PoseLandmarks, turn: QuarterTurn) -> PoseLandmarks:
        pts = turn.points_to_original(lm.points_px)
        return PoseLandmarks(
            points_px=pts,
            visibility=lm.visibility,
            in_frame=points_in_frame(pts, turn.size, self.params.in_frame_margin_px),
            image_size=turn.size,
            segmentation=None,  # the mask stays in the head-up frame where it is used
        )

    def landmarks(self, image: npt.NDArray[np.uint8], t_s: float) -> PoseLandmarks | None:
        """The model's landmarks in the original frame (head-up inference, mapped back)."""
        up, _, turn = self._infer(image, t_s)
        return None if up is None else self._to_original(up, turn)

    def process(self, frame: Frame) -> FramePoints:
        """Points or a rejection reason for one frame."""
        if self.mode == "stickers":
            return self._process_stickers(frame)
        return self._process_markerless(frame)

    def _process_markerless(self, frame: Frame) -> FramePoints:
        up, upright, turn = self._infer(frame.image, frame.t_s)
        lm = None if up is None else self._to_original(up, turn)

        def reject(reason: str) -> FramePoints:
            return FramePoints(frame.index, frame.t_s, None, reason, lm)

        if lm is None or up is None:
            return reject(q.REJECT_NO_PERSON)
        prm = self.params
        hips = (Landmark.LEFT_HIP, Landmark.RIGHT_HIP)
        heels = (Landmark.LEFT_HEEL, Landmark.RIGHT_HEEL)
        if any(lm.vis(h) < prm.min_visibility or not lm.inside(h) for h in hips):
            return reject(q.REJECT_HIPS_NOT_VISIBLE)
        if any(not lm.inside(h) for h in heels):
            return reject(q.REJECT_HEELS_OUT_OF_FRAME)
        if any(lm.vis(h) < prm.min_visibility for h in heels):
            return reject(q.REJECT_HEELS_HIDDEN)

        c_up = turn.rotate_dir(self.caudal_dir_px)
        heel_pts: dict[str, FloatArray] = {}
        status: dict[str, str] = {}
        for side, heel, ankle in (
            ("left", Landmark.LEFT_HEEL, Landmark.LEFT_ANKLE),
            ("right", Landmark.RIGHT_HEEL, Landmark.RIGHT_ANKLE),
        ):
            if not self.refine_heels:
                heel_pts[side], status[side] = lm.px(heel).copy(), "raw-landmark (refinement off)"
                continue
            # refine in the upright image (no need to rotate the mask back), map back
            res = refine_heel(
                upright,
                up.px(heel),
                up.px(ankle),
                c_up,
                mask=up.segmentation,
                view_ok=not self.camera_beyond_feet,
                params=prm.heel,
            )
            heel_pts[side] = turn.points_to_original(res.point_px[None, :])[0]
            status[side] = res.status
        both = np.stack([heel_pts["left"], heel_pts["right"]])
        if not points_in_frame(both, (frame.width, frame.height), prm.in_frame_margin_px).all():
            return reject(q.REJECT_HEELS_OUT_OF_FRAME)
        points = BodyPoints(
            heel_left_px=heel_pts["left"],
            heel_right_px=heel_pts["right"],
            hip_left_px=lm.px(Landmark.LEFT_HIP).copy(),
            hip_right_px=lm.px(Landmark.RIGHT_HIP).copy(),
            heel_status=status,
            mode="markerless",
        )
        return FramePoints(frame.index, frame.t_s, points, None, lm)

    def _process_stickers(self, frame: Frame) -> FramePoints:
        lm = None
        if self.estimator is not None:  # optional: landmarks for the record, not needed
            lm = self.landmarks(frame.image, frame.t_s)
        prm = self.params
        right = self.right_dir_px
        heels = label_pair(find_stickers(frame.image, self.heel_colour, prm.blobs), right)
        if heels is None:
            return FramePoints(frame.index, frame.t_s, None, q.REJECT_HEEL_STICKERS, lm)
        psis = label_pair(find_stickers(frame.image, self.psis_colour, prm.blobs), right)
        if psis is None:
            return FramePoints(frame.index, frame.t_s, None, q.REJECT_PSIS_STICKERS, lm)
        pts = np.stack([s.centre_px for s in (*heels, *psis)])
        if not points_in_frame(pts, (frame.width, frame.height), prm.in_frame_margin_px).all():
            return FramePoints(frame.index, frame.t_s, None, q.REJECT_STICKERS_OUT_OF_FRAME, lm)
        points = BodyPoints(
            heel_left_px=heels[0].centre_px,
            heel_right_px=heels[1].centre_px,
            hip_left_px=psis[0].centre_px,
            hip_right_px=psis[1].centre_px,
            heel_status={"left": "sticker", "right": "sticker"},
            mode="stickers",
        )
        return FramePoints(frame.index, frame.t_s, points, None, lm)
