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

import numpy as np
import numpy.typing as npt

from sotmeasure.capture.frame import Frame
from sotmeasure.errors import SotmeasureError
from sotmeasure.geometry.errors import GeometryError
from sotmeasure.geometry.table_pose import TablePose, estimate_table_pose
from sotmeasure.pose import quality as q
from sotmeasure.pose.pipeline import PosePipeline
from sotmeasure.pose.types import Landmark
from sotmeasure.processing.feet_placement import FeetPlacement, feet_on_table_advice
from sotmeasure.processing.frame_step import FrameMeasurement, TableView, measure_frame
from sotmeasure.processing.setup import LoadedSetup
from sotmeasure.web.live_reading import (
    FEET_ON_TABLE,
    HOLD_STILL,
    MARKERS_NOT_FOUND,
    OK_WORD,
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
#: Rejected frames whose heels are judged together for "the feet rest on the table": a
#: scene fact, so a few frames agreeing, not one frame's landmarks.
_FEET_SAMPLES = 4


#: The live preview measures with the installation's setup, exactly as a measurement does
#: (`LiveSetup.from_settings(settings)`).
LiveSetup = LoadedSetup


class LiveAnalyser:
    """Analyses single frames; one instance per live camera, used from one thread only."""

    def __init__(self, setup: LoadedSetup) -> None:
        self._setup = setup
        self._pose: TablePose | None = None
        self._pose_at = 0.0
        self._pipeline: PosePipeline | None = None
        self._view_key: tuple[float, float, bool] | None = None
        self._positions: deque[tuple[float, FloatArray]] = deque(maxlen=8)
        self._recent: deque[tuple[float, float, float]] = deque(maxlen=64)
        self._feet = FeetPlacement.recent(_FEET_SAMPLES)

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
        view = TableView.of(pose, self._setup.layout)
        if self._pipeline is None or view.key() != self._view_key:
            self.close()
            self._pipeline = view.pipeline(self._setup.params)
            self._view_key = view.key()
        return self._pipeline

    def _feet_on_table(self, step: FrameMeasurement, pose: TablePose) -> str | None:
        """The feet-on-the-table advice (processing/feet_placement.py) once the last few
        rejected frames' heel landmarks lie well short of the table's foot end."""
        lm = step.points.landmarks
        if lm is None:
            return None
        heels = np.array([lm.px(Landmark.LEFT_HEEL), lm.px(Landmark.RIGHT_HEEL)])
        self._feet.add_heels_px(pose, heels, self._setup.params.heel_plane_mm)
        return feet_on_table_advice(self._feet, self._setup.layout)

    def analyse(self, frame: Frame) -> LiveReading:
        """Points, smoothed numbers and the quality word for one frame."""
        try:
            pose = self._table_pose(frame.image)
        except GeometryError as exc:
            self._pose = None
            self._positions.clear()
            return LiveReading(frame.index, frame.t_s, MARKERS_NOT_FOUND, str(exc))
        params = self._setup.params
        try:
            step = measure_frame(self._pipeline_for(pose), pose, frame, params)
        except SotmeasureError as exc:
            return LiveReading(frame.index, frame.t_s, WHOLE_BODY, str(exc))
        if step.px is None:
            self._positions.clear()
            advice = self._feet_on_table(step, pose)
            if advice is not None:  # the cause behind "the foot's outline runs on", etc.
                return LiveReading(frame.index, frame.t_s, FEET_ON_TABLE, advice)
            reason = step.rejection or q.REJECT_NO_PERSON
            return LiveReading(frame.index, frame.t_s, quality_word(reason), reason.text)
        self._feet.clear()
        points = step.points_px()
        if step.mm is None or step.values is None:
            return LiveReading(
                frame.index,
                frame.t_s,
                WHOLE_BODY,
                "the points could not be placed on the table plane",
                points,
                calibration=pose.calibration,
            )
        mm, values = step.mm, step.values
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
