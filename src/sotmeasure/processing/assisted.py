"""Assisted landmarks: heel and PSIS points placed by hand on one frame, in table mm.

The four clicked pixels go through the measurement's own steps: `map_points` (pixel ->
table mm on the heel and hip planes of the measurement's table pose), `frame_values` (LLD
and pelvic tilt), and the geometric budget components of `processing.budget`
(calibration, plane heights, one heel higher than the other). The pose model's parts of the
budget (its grid, its hip estimate) do not apply; a click's own uncertainty does
(`measure.error_budget.click_component`). One frame has no frame-to-frame spread, so the
statistical half-width is 0: the interval is the systematic budget alone.

Planes: a clicked heel is the caudal edge of the heel seen from above (the markerless heel
plane of the setup); a clicked PSIS is the bony point a PSIS sticker marks (the stickers hip
plane of the setup).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sotmeasure.geometry.table_pose import TablePose
from sotmeasure.measure.error_budget import ErrorBudget, calibration_component, click_component
from sotmeasure.measure.frame_values import FrameValues, frame_values, short_side
from sotmeasure.processing.budget import (
    heel_height_difference_effect,
    map_points,
    plane_height_effects,
)

FloatArray = npt.NDArray[np.float64]

#: A click's quantisation: a point lands anywhere within one screen pixel, a uniform
#: distribution of width `step` (image px per screen px) has SD step / sqrt(12).
QUANTISATION_SD_PER_STEP = 1.0 / math.sqrt(12.0)


@dataclass(frozen=True, slots=True)
class AssistedPlanes:
    """Where the clicked points are mapped: heel and PSIS plane heights and their doubt."""

    heel_plane_mm: float
    psis_plane_mm: float
    uncertainty_mm: float


@dataclass(frozen=True, slots=True)
class AssistedMeasurement:
    """The frame values of four clicked points, their table mm and their error budget."""

    points_mm: FloatArray  # (4, 3) in POINT_NAMES order
    values: FrameValues
    budget: ErrorBudget
    click_u_px: float

    @property
    def lld_ci95(self) -> tuple[float, float]:
        h = self.budget.lld_half_mm
        return (self.values.lld_mm - h, self.values.lld_mm + h)

    @property
    def tilt_ci95(self) -> tuple[float, float]:
        h = self.budget.tilt_half_deg
        return (self.values.pelvic_tilt_deg - h, self.values.pelvic_tilt_deg + h)

    @property
    def short_side(self) -> str:
        return short_side(self.values.lld_mm)

    def details(self) -> dict[str, Any]:
        return {
            "points_mm": [[round(float(v), 2) for v in p] for p in self.points_mm],
            "lld_table_mm": round(self.values.lld_table_mm, 3),
            "body_axis_deg": round(self.values.body_axis_deg, 3),
            "click_u_px": round(self.click_u_px, 4),
            "error_budget": self.budget.to_dict(),
        }


def measure_assisted(
    pose: TablePose, points_px: npt.ArrayLike, planes: AssistedPlanes, click_step_px: float
) -> AssistedMeasurement:
    """LLD and tilt of (4, 2) clicked pixels [heel_L, heel_R, PSIS_L, PSIS_R] with their CI.

    `click_step_px`: image pixels per screen pixel when the points were clicked (the
    coarsest of the four): the quantisation of a click.
    """
    px = np.asarray(points_px, dtype=np.float64).reshape(4, 2)
    heel, psis = planes.heel_plane_mm, planes.psis_plane_mm
    mm = map_points(pose, px, heel, psis)
    if not np.all(np.isfinite(mm)):
        raise ValueError("a clicked point does not lie on the table's planes (off the table?)")
    values = frame_values(mm[0], mm[1], mm[2], mm[3])
    heel_z = heel if pose.supports_height else 0.0
    hip_z = psis if pose.supports_height else 0.0
    hip_sep = float(np.hypot(*(mm[3, :2] - mm[2, :2])))
    heel_sep = float(np.hypot(*(mm[1, :2] - mm[0, :2])))
    axis_len = float(np.hypot(*((mm[0, :2] + mm[1, :2]) / 2 - (mm[2, :2] + mm[3, :2]) / 2)))
    click_u = click_step_px * QUANTISATION_SD_PER_STEP
    components = (
        calibration_component(pose.reprojection_mm, pose.reprojection_px, hip_sep),
        plane_height_effects(pose, px, heel, psis, planes.uncertainty_mm, values.lld_mm),
        heel_height_difference_effect(pose, px, heel, psis),
        click_component(
            click_u_px=click_u,
            heel_mm_per_px=float(np.mean(pose.mm_per_px(px[:2], heel_z))),
            hip_mm_per_px=float(np.mean(pose.mm_per_px(px[2:], hip_z))),
            hip_separation_mm=hip_sep,
            heel_separation_mm=heel_sep,
            axis_length_mm=axis_len,
        ),
    )
    budget = ErrorBudget(
        lld_stat_half_mm=0.0,
        tilt_stat_half_deg=0.0,
        lld_n_eff=1.0,
        tilt_n_eff=1.0,
        components=components,
    )
    return AssistedMeasurement(mm, values, budget, click_u)
