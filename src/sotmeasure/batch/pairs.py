"""Pre/post comparisons for every subject and session that has both phases in the manifest.

The change's CI and the verdict come from `sotmeasure.measure.compare` (`change_half_widths`,
`verdict`), the arithmetic `sotmeasure compare` and the service use: the components a visit's
pre and post share cancel. A rerun may find either phase only as a stored row, so the numbers
and the budget are taken from the row (its verbatim result JSON) rather than a live result.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from sotmeasure.batch.task import STATUS_OK
from sotmeasure.measure.compare import Mdc95, change_half_widths, verdict
from sotmeasure.measure.error_budget import ErrorBudget

LLD_HALF = "error_budget.total_ci95_half.lld_mm"
TILT_HALF = "error_budget.total_ci95_half.pelvic_tilt_deg"


def _budget(row: pd.Series) -> ErrorBudget | None:
    """The row's error budget (from the verbatim result JSON), for the shared components."""
    try:
        return ErrorBudget.from_dict(json.loads(str(row["result_json"]))["error_budget"])
    except (KeyError, TypeError, ValueError):
        return None


def _change(pre: pd.Series, post: pd.Series, mdc: Mdc95) -> dict[str, Any]:
    """post - pre with the same half-widths and verdicts as `sotmeasure compare`."""
    lld_half, tilt_half = change_half_widths(
        _budget(pre),
        _budget(post),
        (float(pre[LLD_HALF]), float(pre[TILT_HALF])),
        (float(post[LLD_HALF]), float(post[TILT_HALF])),
    )
    lld = float(post["lld_mm"]) - float(pre["lld_mm"])
    tilt = float(post["pelvic_tilt_deg"]) - float(pre["pelvic_tilt_deg"])
    return {
        "pre.lld_mm": float(pre["lld_mm"]),
        "post.lld_mm": float(post["lld_mm"]),
        "change.lld_mm": lld,
        "change.lld_ci95_mm.lo": lld - lld_half,
        "change.lld_ci95_mm.hi": lld + lld_half,
        "verdict.lld": verdict(lld, lld_half, mdc.lld_mm),
        "pre.pelvic_tilt_deg": float(pre["pelvic_tilt_deg"]),
        "post.pelvic_tilt_deg": float(post["pelvic_tilt_deg"]),
        "change.pelvic_tilt_deg": tilt,
        "change.pelvic_tilt_ci95_deg.lo": tilt - tilt_half,
        "change.pelvic_tilt_ci95_deg.hi": tilt + tilt_half,
        "verdict.pelvic_tilt": verdict(tilt, tilt_half, mdc.pelvic_tilt_deg),
    }


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
            row.update(_change(pre, post, mdc))
        row.update(
            {
                "mdc95.lld_mm": mdc.lld_mm,
                "mdc95.pelvic_tilt_deg": mdc.pelvic_tilt_deg,
                "mdc95.source": mdc.source,
            }
        )
        out.append({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()})
    return pd.DataFrame(out)
