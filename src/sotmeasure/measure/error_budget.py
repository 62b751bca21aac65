"""The error budget: systematic uncertainties that frame-to-frame noise cannot reveal.

Frame noise only tells how well the median of *this* window is pinned down. The camera
calibration, the assumed heights of the heel and hip planes and the pose model's resolution
shift every frame alike, so they never show in the spread. Each is quantified as a standard
uncertainty (1 SD) of LLD and of pelvic tilt and combined by root-sum-square (they have
independent sources); the reported CI95 then adds this in quadrature to the statistical
half-width (see `statistics.combine_half_widths` and `CI_METHOD`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

CI_METHOD = (
    "median +/- sqrt(h_stat^2 + (1.96*u_sys)^2): h_stat = t-interval half-width of the "
    "median with an effective sample size from the integrated autocorrelation time "
    "(Geyer initial positive sequence); u_sys = root-sum-square of the error budget's "
    "standard uncertainties (calibration reprojection, plane-height assumption as a "
    "rectangular +/-N mm, heel localisation resolution, hip point uncertainty)"
)

#: A rectangular (uniform) distribution of half-width N has standard deviation N / sqrt(3).
RECTANGULAR_TO_SD = 1.0 / math.sqrt(3.0)


@dataclass(frozen=True, slots=True)
class BudgetComponent:
    """One systematic source: its effect as a standard uncertainty, and what it is."""

    name: str
    lld_u_mm: float
    pelvic_tilt_u_deg: float
    detail: str
    inputs: dict[str, float | str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "lld_u_mm": round(self.lld_u_mm, 3),
            "pelvic_tilt_u_deg": round(self.pelvic_tilt_u_deg, 3),
            "detail": self.detail,
            "inputs": {
                k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.inputs.items()
            },
        }


@dataclass(frozen=True, slots=True)
class ErrorBudget:
    """Statistical half-widths plus the systematic components and their combination."""

    lld_stat_half_mm: float
    tilt_stat_half_deg: float
    lld_n_eff: float
    tilt_n_eff: float
    components: tuple[BudgetComponent, ...]

    @property
    def lld_systematic_u_mm(self) -> float:
        return math.sqrt(sum(c.lld_u_mm**2 for c in self.components))

    @property
    def tilt_systematic_u_deg(self) -> float:
        return math.sqrt(sum(c.pelvic_tilt_u_deg**2 for c in self.components))

    @property
    def lld_half_mm(self) -> float:
        return math.hypot(self.lld_stat_half_mm, 1.96 * self.lld_systematic_u_mm)

    @property
    def tilt_half_deg(self) -> float:
        return math.hypot(self.tilt_stat_half_deg, 1.96 * self.tilt_systematic_u_deg)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ErrorBudget:
        """The budget back from its `to_dict` form (a stored result's `error_budget`)."""
        stat = data["statistical"]
        return cls(
            lld_stat_half_mm=float(stat["lld_ci95_half_mm"]),
            tilt_stat_half_deg=float(stat["pelvic_tilt_ci95_half_deg"]),
            lld_n_eff=float(stat["lld_effective_frames"]),
            tilt_n_eff=float(stat["pelvic_tilt_effective_frames"]),
            components=tuple(
                BudgetComponent(
                    name=str(c["name"]),
                    lld_u_mm=float(c["lld_u_mm"]),
                    pelvic_tilt_u_deg=float(c["pelvic_tilt_u_deg"]),
                    detail=str(c.get("detail", "")),
                    inputs=dict(c.get("inputs", {})),
                )
                for c in data["systematic"]
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ci_method": CI_METHOD,
            "statistical": {
                "lld_ci95_half_mm": round(self.lld_stat_half_mm, 3),
                "pelvic_tilt_ci95_half_deg": round(self.tilt_stat_half_deg, 3),
                "lld_effective_frames": round(self.lld_n_eff, 1),
                "pelvic_tilt_effective_frames": round(self.tilt_n_eff, 1),
            },
            "systematic": [c.to_dict() for c in self.components],
            "systematic_u": {
                "lld_mm": round(self.lld_systematic_u_mm, 3),
                "pelvic_tilt_deg": round(self.tilt_systematic_u_deg, 3),
            },
            "total_ci95_half": {
                "lld_mm": round(self.lld_half_mm, 3),
                "pelvic_tilt_deg": round(self.tilt_half_deg, 3),
            },
        }


def calibration_component(
    reprojection_mm: float, reprojection_px: float, hip_separation_mm: float
) -> BudgetComponent:
    """Calibration reprojection error as point-position uncertainty.

    `reprojection_mm` is an RMS 2-D residual on the table plane, so one coordinate of one point
    has u = rms / sqrt(2); LLD is a difference of two such coordinates (u * sqrt(2) = rms).
    Tilt: the same difference across the hip separation.
    """
    lld_u = reprojection_mm
    tilt_u = math.degrees(math.atan2(reprojection_mm, hip_separation_mm))
    return BudgetComponent(
        name="calibration",
        lld_u_mm=lld_u,
        pelvic_tilt_u_deg=tilt_u,
        detail="marker reprojection error of the table pose, as a position error of each point",
        inputs={"reprojection_mm": reprojection_mm, "reprojection_px": reprojection_px},
    )


def plane_height_component(
    lld_effect_mm: Sequence[float],
    tilt_effect_deg: Sequence[float],
    uncertainty_mm: float,
    heel_plane_mm: float,
    hip_plane_mm: float,
) -> BudgetComponent:
    """Plane-height assumption: the largest change of LLD / tilt over the plane-height
    perturbations (each +/-N mm, computed through the camera geometry by the caller),
    treated as the half-width of a rectangular distribution."""
    lld_bound = max((abs(v) for v in lld_effect_mm), default=0.0)
    tilt_bound = max((abs(v) for v in tilt_effect_deg), default=0.0)
    return BudgetComponent(
        name="plane_height",
        lld_u_mm=lld_bound * RECTANGULAR_TO_SD,
        pelvic_tilt_u_deg=tilt_bound * RECTANGULAR_TO_SD,
        detail=(
            f"heel and hip plane heights assumed {heel_plane_mm:.0f} mm and {hip_plane_mm:.0f} mm "
            f"above the table top, each uncertain by +/-{uncertainty_mm:.0f} mm; effect computed "
            "through the camera geometry"
        ),
        inputs={
            "heel_plane_mm": heel_plane_mm,
            "hip_plane_mm": hip_plane_mm,
            "plane_uncertainty_mm": uncertainty_mm,
            "lld_bound_mm": lld_bound,
            "pelvic_tilt_bound_deg": tilt_bound,
        },
    )


def hip_landmark_component(
    *,
    hip_u_mm: float,
    hip_separation_mm: float,
    heel_separation_mm: float,
    axis_length_mm: float,
    detail: str,
) -> BudgetComponent:
    """Uncertainty of the two hip points, each with standard uncertainty `hip_u_mm` per
    coordinate, independent between sides.

    Tilt: the hip line's caudal difference has u = hip_u * sqrt(2) over the hip separation.
    LLD: the hips also fix the body axis. The mid-hip point has lateral u = hip_u / sqrt(2);
    over the hip-to-heel length L that turns the axis by u_theta = u_mid / L (rad), which moves
    LLD by heel_separation * u_theta (LLD = heel difference projected on the axis).
    """
    tilt_u = math.degrees(math.atan2(hip_u_mm * math.sqrt(2.0), hip_separation_mm))
    axis_u_rad = (hip_u_mm / math.sqrt(2.0)) / axis_length_mm
    return BudgetComponent(
        name="hip_points",
        lld_u_mm=heel_separation_mm * axis_u_rad,
        pelvic_tilt_u_deg=tilt_u,
        detail=detail,
        inputs={
            "hip_u_mm": hip_u_mm,
            "hip_separation_mm": hip_separation_mm,
            "heel_separation_mm": heel_separation_mm,
            "hip_to_heel_mm": axis_length_mm,
            "body_axis_u_deg": math.degrees(axis_u_rad),
        },
    )


def model_resolution_component(
    *,
    heel_unrefined_step_mm: float,
    heel_refined_step_mm: float,
    refined_share: float,
    detail: str,
    heel_unrefined_offset_u_mm: float = 0.0,
) -> BudgetComponent:
    """Heel localisation resolution: a point found on a grid of step s has u = s / sqrt(12).

    Markerless: the pose model sees a downscaled crop, so an unrefined heel or a hip sits on
    the model's grid (several mm); a heel refined at full image resolution sits on the image
    grid. The heel variance is the refined-share-weighted mix of the two. Stickers: heels
    are found at image resolution (both steps are one image pixel). LLD is a difference of
    two heels (x sqrt(2)). Hips are budgeted separately (`hip_landmark_component`).

    An unrefined heel is the model's heel landmark, which is not the heel's caudal extremity:
    `heel_unrefined_offset_u_mm` (1 SD per heel) adds that definitional offset, so a result
    whose heels could not be refined gets the wide interval it deserves.
    """
    unrefined_var = heel_unrefined_step_mm**2 / 12.0 + heel_unrefined_offset_u_mm**2
    heel_var = (
        refined_share * heel_refined_step_mm**2 / 12.0 + (1.0 - refined_share) * unrefined_var
    )
    heel_u = math.sqrt(heel_var)
    return BudgetComponent(
        name="heel_resolution",
        lld_u_mm=heel_u * math.sqrt(2.0),
        pelvic_tilt_u_deg=0.0,
        detail=detail,
        inputs={
            "heel_unrefined_step_mm": heel_unrefined_step_mm,
            "heel_refined_step_mm": heel_refined_step_mm,
            "heel_refined_share": refined_share,
            "heel_unrefined_offset_u_mm": heel_unrefined_offset_u_mm,
        },
    )


def click_component(
    *,
    click_u_px: float,
    heel_mm_per_px: float,
    hip_mm_per_px: float,
    hip_separation_mm: float,
    heel_separation_mm: float,
    axis_length_mm: float,
) -> BudgetComponent:
    """Where a clicked point lands: `click_u_px` (1 SD per coordinate, image pixels) at the
    frame's mm per pixel at the heels and at the hips, independent between the four points.

    LLD: the heel difference (heel u x sqrt 2) and the body axis the two hips turn (as in
    `hip_landmark_component`), combined. Tilt: the hip difference over the hip separation.
    """
    heel_u = click_u_px * heel_mm_per_px
    hip_u = click_u_px * hip_mm_per_px
    axis_u_rad = (hip_u / math.sqrt(2.0)) / axis_length_mm
    return BudgetComponent(
        name="click_placement",
        lld_u_mm=math.hypot(heel_u * math.sqrt(2.0), heel_separation_mm * axis_u_rad),
        pelvic_tilt_u_deg=math.degrees(math.atan2(hip_u * math.sqrt(2.0), hip_separation_mm)),
        detail=(
            f"points placed by clicks, each within +/-{click_u_px:.2f} px (1 SD) of where it was "
            f"meant: {heel_u:.2f} mm at the heels, {hip_u:.2f} mm at the PSIS"
        ),
        inputs={
            "click_u_px": click_u_px,
            "heel_mm_per_px": heel_mm_per_px,
            "hip_mm_per_px": hip_mm_per_px,
        },
    )
