"""What the live preview knows about the current frame: points, numbers, a quality word.

The same chain as a measurement (table pose from the target's markers, the pose pipeline,
pixels to table millimetres on the heel and hip planes, frame values), run on single frames
at a reduced rate. Live numbers are a positioning aid: a median over the last couple of
seconds, never stored; the measurement itself uses a still window and reports its CI.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sotmeasure.capture.frame import Frame
from sotmeasure.errors import SotmeasureError
from sotmeasure.geometry.errors import GeometryError
from sotmeasure.geometry.layout import TargetLayout, load_layout
from sotmeasure.geometry.profile import CameraProfile, load_profile
from sotmeasure.geometry.table_pose import TablePose, estimate_table_pose
from sotmeasure.jobs.measure_adapter import resolve_setup
from sotmeasure.measure.frame_values import frame_values
from sotmeasure.pose import quality as q
from sotmeasure.pose.pipeline import PosePipeline
from sotmeasure.processing import MeasureParams, load_setup, resolve_params
from sotmeasure.processing.budget import map_points
from sotmeasure.settings import Settings
from sotmeasure.web.live_reading import (
    HOLD_STILL,
    MARKERS_NOT_FOUND,
    OK_WORD,
    POINT_NAMES,
    WHOLE_BODY,
    LiveReading,
    quality_word,
)

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]

_TABLE_POSE_MAX_AGE_S = 10.0
_NUMBERS_SPAN_S = 2.0
#: Live single frames are noisier than a window: movement must exceed this many motion
#: thresholds before the page says "hold still".
_HOLD_STILL_FACTOR = 2.0


@dataclass(frozen=True, slots=True)
class LiveSetup:
    """The installation's table layout, camera profile and measurement parameters."""

    layout: TargetLayout
    profile: CameraProfile | None
    params: MeasureParams

    @classmethod
    def from_settings(cls, settings: Settings) -> LiveSetup:
        """The same files and parameters the background measurement uses."""
        setup = resolve_setup(settings)
        return cls(
            layout=load_layout(setup.layout_path),
            profile=load_profile(setup.profile_path) if setup.profile_path else None,
            params=resolve_params(
                mode=settings.measure_mode,
                setup=load_setup(setup.setup_path) if setup.setup_path else None,
                heel_plane_mm=settings.heel_plane_mm,
                hip_plane_mm=settings.hip_plane_mm,
            ),
        )


def _caudal_direction(pose: TablePose, layout: TargetLayout) -> FloatArray:
    """Image direction of table +x (toward the feet) at the centre of the layout."""
    centre = np.mean(np.concatenate(list(layout.markers.values())), axis=0)
    centre_px = pose.table_to_pixel(np.array([[centre[0], centre[1], 0.0]]))[0]
    return np.asarray(pose.table_direction_px(centre_px, (1.0, 0.0)), dtype=np.float64)


def _camera_beyond_feet(pose: TablePose, layout: TargetLayout) -> bool:
    """Oblique camera past the foot end: heels cannot be refined on their outline."""
    if not pose.supports_height:
        return False
    max_x = max(float(np.max(c[:, 0])) for c in layout.markers.values())
    return bool(pose.camera_position_mm[0] > max_x)


class LiveAnalyser:
    """Analyses single frames; one instance per live camera, used from one thread only."""

    def __init__(self, setup: LiveSetup) -> None:
        self._setup = setup
        self._pose: TablePose | None = None
        self._pose_at = 0.0
        self._pipeline: PosePipeline | None = None
        self._pipeline_key: tuple[float, float, bool] | None = None
        self._positions: deque[tuple[float, FloatArray]] = deque(maxlen=8)
        self._recent: deque[tuple[float, float, float]] = deque(maxlen=64)

    def close(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None

    def __enter__(self) -> LiveAnalyser:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _movement_mm(self, now: float, mm: FloatArray) -> float | None:
        """How far the points are from where they were (median of the last 2 s), in mm.

        Against a median, not the previous frame: single-frame landmark noise of a few mm
        must not read as movement; a patient shifting or rolling does.
        """
        before = [p for t, p in self._positions if now - t <= _NUMBERS_SPAN_S]
        if not before:
            return None
        reference = np.median(np.stack(before), axis=0)
        return float(np.max(np.linalg.norm(mm[:, :2] - reference[:, :2], axis=1)))

    def _table_pose(self, image: npt.NDArray[np.uint8]) -> TablePose:
        now = time.monotonic()
        size = (int(image.shape[1]), int(image.shape[0]))
        if (
            self._pose is None
            or now - self._pose_at > _TABLE_POSE_MAX_AGE_S
            or self._pose.image_size_px != size
        ):
            self._pose = estimate_table_pose([image], self._setup.layout, self._setup.profile)
            self._pose_at = now
        return self._pose

    def _pipeline_for(self, pose: TablePose) -> PosePipeline:
        caudal = _caudal_direction(pose, self._setup.layout)
        beyond = _camera_beyond_feet(pose, self._setup.layout)
        key = (round(float(caudal[0]), 2), round(float(caudal[1]), 2), beyond)
        if self._pipeline is None or key != self._pipeline_key:
            self.close()
            self._pipeline = PosePipeline(
                self._setup.params.mode, caudal, camera_beyond_feet=beyond
            )
            self._pipeline_key = key
        return self._pipeline

    def analyse(self, frame: Frame) -> LiveReading:
        """Points, smoothed numbers and the quality word for one frame."""
        try:
            pose = self._table_pose(frame.image)
        except GeometryError as exc:
            self._pose = None
            self._positions.clear()
            return LiveReading(frame.index, frame.t_s, MARKERS_NOT_FOUND, str(exc))
        try:
            result = self._pipeline_for(pose).process(frame)
        except SotmeasureError as exc:
            return LiveReading(frame.index, frame.t_s, WHOLE_BODY, str(exc))
        if result.points is None:
            self._positions.clear()
            reason = result.rejection or q.REJECT_NO_PERSON
            return LiveReading(frame.index, frame.t_s, quality_word(reason), reason)
        b = result.points
        px = np.array([b.heel_left_px, b.heel_right_px, b.hip_left_px, b.hip_right_px])
        points = {n: (float(px[i, 0]), float(px[i, 1])) for i, n in enumerate(POINT_NAMES)}
        params = self._setup.params
        mm = map_points(pose, px, params.heel_plane_mm, params.hip_plane_mm)
        if not np.all(np.isfinite(mm)):
            return LiveReading(
                frame.index,
                frame.t_s,
                WHOLE_BODY,
                "the points could not be placed on the table plane",
                points,
                calibration=pose.calibration,
            )
        values = frame_values(mm[0], mm[1], mm[2], mm[3])
        now = frame.t_s
        moved = self._movement_mm(now, mm)
        if moved is not None and moved > _HOLD_STILL_FACTOR * params.motion_threshold_mm:
            self._recent.clear()
            self._positions.clear()
            self._positions.append((now, mm))
            return LiveReading(
                frame.index,
                frame.t_s,
                HOLD_STILL,
                f"the patient moved about {moved:.0f} mm: hold still",
                points,
                values.lld_mm,
                values.pelvic_tilt_deg,
                pose.calibration,
            )
        self._positions.append((now, mm))
        self._recent.append((now, values.lld_mm, values.pelvic_tilt_deg))
        recent = [r for r in self._recent if now - r[0] <= _NUMBERS_SPAN_S]
        return LiveReading(
            frame.index,
            frame.t_s,
            OK_WORD,
            "heels, hips and markers found; live numbers are a guide, press Measure",
            points,
            float(np.median([r[1] for r in recent])),
            float(np.median([r[2] for r in recent])),
            pose.calibration,
        )
