"""Pre/post comparison: change = post - pre with its 95% CI and a verdict against MDC95.

The change's half-width combines the two measurements' total 95% half-widths (each already
statistical + systematic) by root-sum-square. This treats the two captures' errors as
independent, which is conservative: the systematic parts that pre and post share (same
camera, same plane heights) partly cancel in a real change, so the true interval is at most
this wide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

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
                "ci_method": "root-sum-square of the pre and post total CI95 half-widths",
            },
            "mdc95": self.mdc95.to_dict(),
            "verdict": {"lld": self.lld_verdict, "pelvic_tilt": self.tilt_verdict},
        }


def compare(
    pre: MeasurementResult, post: MeasurementResult, mdc95: Mdc95 | None = None
) -> Comparison:
    """Change post - pre with a 95% CI (see module docstring) and verdicts against MDC95."""
    return Comparison(
        pre=pre,
        post=post,
        lld_change_mm=post.lld_mm - pre.lld_mm,
        lld_change_half_mm=math.hypot(pre.lld_half_mm, post.lld_half_mm),
        tilt_change_deg=post.pelvic_tilt_deg - pre.pelvic_tilt_deg,
        tilt_change_half_deg=math.hypot(pre.tilt_half_deg, post.tilt_half_deg),
        mdc95=mdc95 if mdc95 is not None else Mdc95(),
    )
