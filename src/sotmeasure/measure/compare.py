"""Pre/post comparison: change = post - pre with its 95% CI and a verdict against MDC95.

The change's half-width combines the two measurements' statistical half-widths and their
error budgets component by component: the systematic sources pre and post share (same camera
and markers, same plane heights, the same feet lying the same way) move both alike and cancel
in the change up to the difference of their sizes; the others (heel localisation, the
model's hip points) are taken as independent (CHANGE_CI_METHOD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sotmeasure.measure.error_budget import ErrorBudget
from sotmeasure.measure.result import MeasurementResult

REAL_CHANGE = "real change"
WITHIN_NOISE = "within noise"

DEFAULT_MDC95_SOURCE = (
    "LLD 3.7 mm: the smallest change an instrumented prone leg check can call real "
    "(docs/MEASUREMENT.md). Tilt 1.0 deg: the hip-line angle that moves one hip joint centre "
    "3.7 mm relative to the other across a ~210 mm hip-joint separation, atan(3.7/210) = 1.0 "
    "deg. Both are stand-ins until a clinic measures its own with repeated captures "
    "(ICC(2,1), SEM, MDC95 = 1.96*sqrt(2)*SEM)."
)


@dataclass(frozen=True, slots=True)
class Mdc95:
    """Minimal detectable change at 95% confidence, and where the numbers come from."""

    lld_mm: float = 3.7
    pelvic_tilt_deg: float = 1.0
    source: str = DEFAULT_MDC95_SOURCE

    def to_dict(self) -> dict[str, Any]:
        return {
            "lld_mm": self.lld_mm,
            "pelvic_tilt_deg": self.pelvic_tilt_deg,
            "source": self.source,
        }


def verdict(change: float, ci_half: float, mdc95: float) -> str:
    """ "real change" only when |change| exceeds both the CI half-width and the MDC95."""
    return REAL_CHANGE if abs(change) > ci_half and abs(change) > mdc95 else WITHIN_NOISE


@dataclass(frozen=True, slots=True)
class Comparison:
    """post - pre for both numbers, with CIs and verdicts."""

    pre: MeasurementResult
    post: MeasurementResult
    lld_change_mm: float
    lld_change_half_mm: float
    tilt_change_deg: float
    tilt_change_half_deg: float
    mdc95: Mdc95

    @property
    def lld_verdict(self) -> str:
        return verdict(self.lld_change_mm, self.lld_change_half_mm, self.mdc95.lld_mm)

    @property
    def tilt_verdict(self) -> str:
        return verdict(self.tilt_change_deg, self.tilt_change_half_deg, self.mdc95.pelvic_tilt_deg)

    def to_dict(self, *, include_frames: bool = False) -> dict[str, Any]:
        """The `compare --json` contract."""
        r = 3
        return {
            "pre": self.pre.to_dict(include_frames=include_frames),
            "post": self.post.to_dict(include_frames=include_frames),
            "change": {
                "lld_mm": round(self.lld_change_mm, r),
                "lld_ci95_mm": [
                    round(self.lld_change_mm - self.lld_change_half_mm, r),
                    round(self.lld_change_mm + self.lld_change_half_mm, r),
                ],
                "pelvic_tilt_deg": round(self.tilt_change_deg, r),
                "pelvic_tilt_ci95_deg": [
                    round(self.tilt_change_deg - self.tilt_change_half_deg, r),
                    round(self.tilt_change_deg + self.tilt_change_half_deg, r),
                ],
                "ci_method": CHANGE_CI_METHOD,
            },
            "mdc95": self.mdc95.to_dict(),
            "verdict": {"lld": self.lld_verdict, "pelvic_tilt": self.tilt_verdict},
        }


#: Systematic sources a pre and a post capture of one visit share: the same camera and
#: markers (calibration), the same assumed plane heights, and the same feet lying the same
#: way (the heel-height difference; the patient stays prone while the blocks go in). Their
#: effects move pre and post alike and cancel in the change, up to the difference of their
#: sizes. Heel localisation and the model's hip points are treated as independent.
SHARED_COMPONENTS = frozenset({"calibration", "plane_height", "heel_height_difference"})
CHANGE_CI_METHOD = (
    "sqrt(h_stat_pre^2 + h_stat_post^2 + 1.96^2 * (sum over independent components of "
    "u_pre^2 + u_post^2 + sum over shared components (calibration, plane_height, "
    "heel_height_difference) of (u_post - u_pre)^2))"
)


def _change_half(pre: ErrorBudget, post: ErrorBudget, which: str) -> float:
    """95% half-width of post - pre with the shared systematic components correlated."""
    stat = "lld_stat_half_mm" if which == "lld" else "tilt_stat_half_deg"
    u = "lld_u_mm" if which == "lld" else "pelvic_tilt_u_deg"
    pre_u = {c.name: getattr(c, u) for c in pre.components}
    post_u = {c.name: getattr(c, u) for c in post.components}
    var = 0.0
    for name in pre_u.keys() | post_u.keys():
        a, b = pre_u.get(name, 0.0), post_u.get(name, 0.0)
        var += (b - a) ** 2 if name in SHARED_COMPONENTS else a**2 + b**2
    return math.sqrt(getattr(pre, stat) ** 2 + getattr(post, stat) ** 2 + 1.96**2 * var)


def change_half_widths(
    pre_budget: ErrorBudget | None,
    post_budget: ErrorBudget | None,
    pre_halves: tuple[float, float],
    post_halves: tuple[float, float],
) -> tuple[float, float]:
    """(LLD, tilt) 95% half-widths of post - pre: component by component when both
    budgets are known, else the root-sum-square of the two total half-widths (results
    imported without a budget), which treats every source as independent."""
    if pre_budget is not None and post_budget is not None:
        return (
            _change_half(pre_budget, post_budget, "lld"),
            _change_half(pre_budget, post_budget, "tilt"),
        )
    return (
        math.hypot(pre_halves[0], post_halves[0]),
        math.hypot(pre_halves[1], post_halves[1]),
    )


def compare(
    pre: MeasurementResult, post: MeasurementResult, mdc95: Mdc95 | None = None
) -> Comparison:
    """Change post - pre with a 95% CI (see module docstring) and verdicts against MDC95."""
    lld_half, tilt_half = change_half_widths(
        pre.budget,
        post.budget,
        (pre.lld_half_mm, pre.tilt_half_deg),
        (post.lld_half_mm, post.tilt_half_deg),
    )
    return Comparison(
        pre=pre,
        post=post,
        lld_change_mm=post.lld_mm - pre.lld_mm,
        lld_change_half_mm=lld_half,
        tilt_change_deg=post.pelvic_tilt_deg - pre.pelvic_tilt_deg,
        tilt_change_half_deg=tilt_half,
        mdc95=mdc95 if mdc95 is not None else Mdc95(),
    )
