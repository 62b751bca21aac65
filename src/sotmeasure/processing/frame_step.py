"""The per-frame step shared by file measurement and the live preview.

One frame and the table pose in; the four body points in pixels and in table millimetres,
their frame values, and how each point was found (or the reason the frame is rejected) out.
`measure_video` runs it over every frame of a file; the live preview runs it on single
frames. Neither re-implements a part of it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from sotmeasure.capture.frame import Frame
from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.table_pose import CameraTablePose, TablePose
from sotmeasure.measure.frame_values import FrameValues, frame_values, named_points
from sotmeasure.pose.estimator import PoseEstimator
from sotmeasure.pose.patient_choice import (
    PatientChoice,
    ProneBodyLimits,
    TableOutline,
    choose_patient,
    table_zone_mm,
)
from sotmeasure.pose.photometry import Photometry
from sotmeasure.pose.pipeline import FramePoints, PatientGate, PosePipeline
from sotmeasure.pose.quality import REJECT_OFF_PLANE, Rejection
from sotmeasure.pose.stickers import StickerColour
from sotmeasure.pose.types import PoseLandmarks
from sotmeasure.processing.budget import map_points
from sotmeasure.processing.image_motion import PointPatches
from sotmeasure.processing.params import MeasureParams

FloatArray = npt.NDArray[np.float64]

#: A layout at least this long (mm) spans the table top (treatment tables are 1.8-2.1 m).
_MIN_TABLE_MM = 1500.0


@dataclass(frozen=True, slots=True)
class TableView:
    """How the camera sees the table: the image direction toward the feet, and whether the
    camera sits beyond the foot end (then heels cannot be refined on their outline)."""

    caudal_dir_px: FloatArray
    camera_beyond_feet: bool
    gate: PatientGate | None = None
    #: Where a patient on the table can be seen (frame px polygon), None where the layout
    #: does not outline the table top.
    zone_px: FloatArray | None = None

    @classmethod
    def of(
        cls, pose: TablePose, layout: TargetLayout, zone_pose: TablePose | None = None
    ) -> TableView:
        """The view through `pose`; the table zone through `zone_pose` (default: `pose`).

        A file measurement places the zone by its first frame's pose, as the live
        measurement of a capture must (it starts the model before the measurement's pose
        is known): the model's input, zone included, is then the same in both."""
        centre = np.mean(np.concatenate(list(layout.markers.values())), axis=0)
        centre_px = pose.table_to_pixel(np.array([[centre[0], centre[1], 0.0]]))[0]
        caudal = np.asarray(pose.table_direction_px(centre_px, (1.0, 0.0)), dtype=np.float64)
        beyond = False
        if isinstance(pose, CameraTablePose):
            max_x = max(float(np.max(c[:, 0])) for c in layout.markers.values())
            beyond = bool(pose.camera_position_mm[0] > max_x)
        table = table_outline(layout)
        zone = _table_zone_px(zone_pose or pose, table)
        return cls(caudal, beyond, _patient_gate(pose, table), zone)

    def key(self) -> tuple[float, float, bool]:
        """Equal keys: a pose pipeline made for one view serves the other."""
        return (
            round(float(self.caudal_dir_px[0]), 2),
            round(float(self.caudal_dir_px[1]), 2),
            self.camera_beyond_feet,
        )

    def pipeline(
        self,
        params: MeasureParams,
        estimator: PoseEstimator | None = None,
        photometry: Photometry | None = None,
    ) -> PosePipeline:
        """A pose pipeline oriented for this view (close it, or use `with`). `estimator`:
        a `tracking_estimator()` made beforehand, which the pipeline then owns.
        `photometry`: the markers' white and black levels (sticker colours are relative to
        that white)."""
        return PosePipeline(
            params.mode,
            self.caudal_dir_px,
            camera_beyond_feet=self.camera_beyond_feet,
            patient_gate=self.gate,
            heel_colour=StickerColour(params.heel_sticker_rgb),
            psis_colour=StickerColour(params.psis_sticker_rgb),
            estimator=estimator,
            own_estimator=estimator is not None,
            photometry=photometry,
            table_zone_px=self.zone_px,
        )


def table_outline(layout: TargetLayout) -> TableOutline | None:
    """The table top in table mm, or None: a layout smaller than a table (a ChArUco board
    lying on it) does not outline the table top; then only the body's own tests (axis,
    lengths, order) choose the patient, and the crowd model looks at the whole image."""
    corners = np.concatenate(list(layout.markers.values()))
    length, width = layout.table_size_mm or (
        float(np.max(corners[:, 0])),
        float(np.max(corners[:, 1])),
    )
    return TableOutline(float(length), float(width)) if length >= _MIN_TABLE_MM else None


def _table_zone_px(pose: TablePose, table: TableOutline | None) -> FloatArray | None:
    """`table_zone_mm` in frame px: the hull of its outline on the table top and at the
    highest a prone body reaches (a camera off to one side sees the body's top further
    out than the table top under it)."""
    if table is None:
        return None
    lim = ProneBodyLimits()
    corners = table_zone_mm(table, lim)
    heights = (0.0, lim.body_top_mm) if pose.supports_height else (0.0,)
    pts = np.concatenate(
        [pose.table_to_pixel(np.column_stack([corners, np.full(4, z)])) for z in heights]
    )
    if not np.all(np.isfinite(pts)):
        return None
    return np.asarray(cv2.convexHull(pts.astype(np.float32))[:, 0, :], dtype=np.float64)


def _patient_gate(pose: TablePose, table: TableOutline | None) -> PatientGate:
    """Chooses the person lying on this table (pose.patient_choice), in table mm."""

    def to_table(px: FloatArray, z_mm: float) -> FloatArray:
        return pose.pixel_to_table(px, z_mm if pose.supports_height else 0.0)

    def gate(people: list[PoseLandmarks]) -> PatientChoice:
        return choose_patient(people, to_table, table)

    return gate


@dataclass(frozen=True, slots=True)
class FrameMeasurement:
    """One frame: points in pixels and table mm with their frame values, or a rejection."""

    index: int
    t_s: float
    px: FloatArray | None  # (4, 2) in POINT_NAMES order
    mm: FloatArray | None  # (4, 3) on the heel and hip planes
    values: FrameValues | None
    rejection: Rejection | None
    points: FramePoints
    #: Grey patches around the points, held until `ImageMotion` has compared them with an
    #: earlier frame's (then dropped, so a long video does not keep them).
    patches: PointPatches | None = None
    #: How far the image moved at each point over the motion baseline, mm (4,), NaN where
    #: the image could not tell; None before `ImageMotion` has seen the frame.
    image_motion_mm: FloatArray | None = None

    @property
    def heel_refined(self) -> tuple[bool, bool] | None:
        """Per heel (left, right): located on the image at full resolution (not raw)."""
        b = self.points.points
        if b is None:
            return None
        return (b.heel_is_refined("left"), b.heel_is_refined("right"))

    @property
    def hip_refined(self) -> bool | None:
        b = self.points.points
        return None if b is None else b.hips_are_refined()

    def points_px(self) -> dict[str, tuple[float, float]]:
        if self.px is None:
            return {}
        return named_points(self.px)


def measure_frame(
    pipeline: PosePipeline, pose: TablePose, frame: Frame, params: MeasureParams
) -> FrameMeasurement:
    """Run the pose pipeline on one frame and map its points to the table planes."""
    return map_frame(pipeline.process(frame), pose, params)


def map_frame(fp: FramePoints, pose: TablePose, params: MeasureParams) -> FrameMeasurement:
    """One frame's pose-pipeline points mapped to the table planes, with its values."""
    if fp.points is None:
        return FrameMeasurement(fp.index, fp.t_s, None, None, None, fp.rejection, fp)
    b = fp.points
    px = np.array(
        [b.heel_left_px, b.heel_right_px, b.hip_left_px, b.hip_right_px], dtype=np.float64
    )
    mm = map_points(pose, px, params.heel_plane_mm, params.hip_plane_mm)
    if not np.all(np.isfinite(mm)):
        return FrameMeasurement(fp.index, fp.t_s, px, None, None, REJECT_OFF_PLANE, fp)
    values = frame_values(mm[0], mm[1], mm[2], mm[3])
    return FrameMeasurement(fp.index, fp.t_s, px, mm, values, None, fp)
