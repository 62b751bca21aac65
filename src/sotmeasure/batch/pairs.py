"""Pre/post comparisons for every subject and session that has both phases in the manifest.

The change, its CI and the verdict come from `sotmeasure.measure.compare`, the same function
`sotmeasure compare` uses. It reads four numbers of each result (value and total 95%
half-width of LLD and tilt); a rerun may find either phase only as a stored row, so those
four are taken from the row (the contract's rounded values) rather than a live result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from sotmeasure.batch.task import STATUS_OK
from sotmeasure.measure.compare import Mdc95, compare

if TYPE_CHECKING:
    from sotmeasure.measure.result import MeasurementResult

LLD_HALF = "error_budget.total_ci95_half.lld_mm"
TILT_HALF = "error_budget.total_ci95_half.pelvic_tilt_deg"


@dataclass(frozen=True, slots=True)
class _Numbers:
    """The part of a MeasurementResult that `compare` reads."""

    lld_mm: float
    lld_half_mm: float
    pelvic_tilt_deg: float
    tilt_half_deg: float


def _numbers(row: pd.Series) -> MeasurementResult:
    n = _Numbers(
        lld_mm=float(row["lld_mm"]),
        lld_half_mm=float(row[LLD_HALF]),
        pelvic_tilt_deg=float(row["pelvic_tilt_deg"]),
        tilt_half_deg=float(row[TILT_HALF]),
    )
    return cast("MeasurementResult", n)


def _why_not(pre: pd.Series | None, post: pd.Series | None) -> str | None:
    for phase, row in (("pre", pre), ("post", post)):
        if row is None:
            return f"no {phase} item in the results"
        if row["status"] != STATUS_OK:
            return f"{phase} {row['status']}: {row['reason']}"
    if pre is not None and post is not None and pre["mode"] != post["mode"]:
        return f"pre measured {pre['mode']}, post {post['mode']}: not comparable"
    return None


def comparisons(results: pd.DataFrame, mdc95: Mdc95 | None = None) -> pd.DataFrame:
    """One row per (subject, session) with both a pre and a post item in `results`."""
    mdc = mdc95 if mdc95 is not None else Mdc95()
    out: list[dict[str, Any]] = []
    if results.empty:
        return pd.DataFrame()
    for (subject, session), group in results.groupby(["subject", "session"], sort=True):
        phases = {str(r["phase"]): r for _, r in group.iterrows()}
        if not {"pre", "post"} <= set(phases):
            continue
        pre, post = phases["pre"], phases["post"]
        row: dict[str, Any] = {"subject": subject, "session": session}
        row.update({k: pre[k] for k in group.columns if str(k).startswith("label.")})
        reason = _why_not(pre, post)
        row["status"] = "compared" if reason is None else "not comparable"
        row["reason"] = reason
        if reason is None:
            c = compare(_numbers(pre), _numbers(post), mdc)
            row.update(
                {
                    "pre.lld_mm": float(pre["lld_mm"]),
                    "post.lld_mm": float(post["lld_mm"]),
                    "change.lld_mm": c.lld_change_mm,
                    "change.lld_ci95_mm.lo": c.lld_change_mm - c.lld_change_half_mm,
                    "change.lld_ci95_mm.hi": c.lld_change_mm + c.lld_change_half_mm,
                    "verdict.lld": c.lld_verdict,
                    "pre.pelvic_tilt_deg": float(pre["pelvic_tilt_deg"]),
                    "post.pelvic_tilt_deg": float(post["pelvic_tilt_deg"]),
                    "change.pelvic_tilt_deg": c.tilt_change_deg,
                    "change.pelvic_tilt_ci95_deg.lo": c.tilt_change_deg - c.tilt_change_half_deg,
                    "change.pelvic_tilt_ci95_deg.hi": c.tilt_change_deg + c.tilt_change_half_deg,
                    "verdict.pelvic_tilt": c.tilt_verdict,
                }
            )
        row.update(
            {
                "mdc95.lld_mm": mdc.lld_mm,
                "mdc95.pelvic_tilt_deg": mdc.pelvic_tilt_deg,
                "mdc95.source": mdc.source,
            }
        )
        out.append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
    return pd.DataFrame(out)
