"""Where the heels lay along the table: the advice a heel refusal gives when the feet rest on it.

The heel line is taken with the feet hanging over the table's foot end (the setup's heel
plane is the hanging heel's caudal edge). With the feet resting on the table, dorsum down
and toes toward the foot end, the foot's outline runs on past the heel to the toes, so the
frame checks reject the heels ("the foot's outline runs on past the heel", "both feet end in
their toes") and the recording is refused. Those frame reasons name the symptom; a
practitioner reading "something touches the foot" looks for a hand that is not there. The
scene says more: the heels' position on the table.

Hanging feet have their ankles over the end, so their heels lie beyond it (rendered clips:
25-73 mm beyond); feet resting on the table have the whole foot on it, heels about a foot's
length before the end (rendered clips: 200-260 mm before). `FEET_ON_TABLE_MM` lies between,
with room for the pose model's heel landmark (on a foot lying on its dorsum it may sit
mid-foot, i.e. further from the end: the same answer) and for the heel plane's height
(97 mm in the setup, ~145 mm for a foot on the table: a few cm of parallax). What the
heel points gave: hanging feet 88 mm beyond to 3 mm before the end (22 clean rendered clips;
none of the 112 runs of bench/robustness.py with hanging feet got the advice), feet on the pad
158-239 mm before it (the suite's 10 on-pad refusals). This only ever adds advice to a
refusal; it never refuses or accepts a measurement by itself.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.layout import TargetLayout
from sotmeasure.geometry.table_pose import TablePose
from sotmeasure.measure.errors import MeasurementError
from sotmeasure.processing.frame_step import table_outline

FloatArray = npt.NDArray[np.float64]

#: Heels at least this far (mm) before the table's foot end lie on the table (see above).
FEET_ON_TABLE_MM = 100.0
#: Fewer samples than this (one every few frames) say nothing about the scene.
MIN_SAMPLES = 3


@dataclass
class FeetPlacement:
    """The heels' mean position along the table (table x, mm toward the feet), sampled
    every few frames with the image quality, rejected frames included (their heel
    landmarks: the frames a refusal is about). The live preview keeps only its last few
    samples (`recent`)."""

    heel_x_mm: deque[float] = field(default_factory=deque)

    @classmethod
    def recent(cls, samples: int) -> FeetPlacement:
        """One that keeps only the last `samples` samples."""
        return cls(deque(maxlen=samples))

    def add(self, heels_mm: FloatArray) -> None:
        """`heels_mm`: the two heels (2, 2 or 3) in table mm; NaN rows are skipped."""
        x = float(np.mean(np.asarray(heels_mm, dtype=np.float64)[:, 0]))
        if np.isfinite(x):
            self.heel_x_mm.append(x)

    def add_heels_px(self, pose: TablePose, heels_px: FloatArray, heel_plane_mm: float) -> None:
        """The two heels (2, 2) in frame px, put on the heel plane (the table top for a pose
        that cannot map heights, as the measurement does)."""
        z = heel_plane_mm if pose.supports_height else 0.0
        self.add(pose.pixel_to_table(heels_px, z))

    def clear(self) -> None:
        self.heel_x_mm.clear()

    def before_foot_end_mm(self, table_length_mm: float) -> float | None:
        """How far the heels lay before the foot end (median; negative: beyond it)."""
        if len(self.heel_x_mm) < MIN_SAMPLES:
            return None
        return table_length_mm - float(np.median(self.heel_x_mm))


def feet_on_table_advice(placement: FeetPlacement, layout: TargetLayout) -> str | None:
    """The sentence naming feet that rest on the table, or None (no table outline in the
    layout, too few samples, or heels at or beyond the foot end)."""
    table = table_outline(layout)
    if table is None:
        return None
    before = placement.before_foot_end_mm(table.length_mm)
    if before is None or before < FEET_ON_TABLE_MM:
        return None
    return (
        f"the heels lay about {before:.0f} mm short of the table's foot end: the feet seem to "
        "rest on the table, where the foot's outline runs on past the heel to the toes; the "
        "heel line is taken with the feet hanging over the foot end, so move the patient "
        "toward it until the ankles are over the end, then record again"
    )


def with_feet_advice(
    exc: MeasurementError, placement: FeetPlacement, layout: TargetLayout
) -> MeasurementError:
    """A heel refusal led by the feet-on-the-table advice when it applies, else `exc`."""
    advice = feet_on_table_advice(placement, layout)
    return exc if advice is None else MeasurementError(f"{advice}; {exc}")
