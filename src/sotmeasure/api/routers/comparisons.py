"""GET /visits/{id}/comparison: post - pre of the visit, computed on request.

Why computed and not stored: it is a pure, cheap function of two stored results and the
installation's MDC95. Storing it would create a second truth that goes stale whenever a
measurement is retried, re-imported or deleted, or the MDC95 is re-measured.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession, get_visit
from sotmeasure.api.schemas import ComparisonOut
from sotmeasure.jobs.measure_adapter import compare_results
from sotmeasure.store.models import Measurement, Phase, Status

router = APIRouter(tags=["comparisons"])


def latest_done(session: Session, visit_id: int, phase: Phase) -> Measurement | None:
    """The most recent finished measurement of a phase (a repeat supersedes earlier ones)."""
    return session.scalar(
        select(Measurement)
        .where(
            Measurement.visit_id == visit_id,
            Measurement.phase == phase.value,
            Measurement.status == Status.DONE.value,
        )
        .order_by(Measurement.finished_at.desc(), Measurement.id.desc())
        .limit(1)
    )


@router.get("/visits/{visit_id}/comparison", response_model=ComparisonOut)
def visit_comparison(
    visit_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession
) -> ComparisonOut:
    """Change post - pre with its 95% CI and verdicts (409 until both phases are done)."""
    visit = get_visit(session, user, visit_id)
    pre = latest_done(session, visit.id, Phase.PRE)
    post = latest_done(session, visit.id, Phase.POST)
    missing = [name for name, row in (("pre", pre), ("post", post)) if row is None]
    if missing or pre is None or post is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"the visit has no finished {' and '.join(missing)} measurement yet",
        )
    comparison = compare_results(pre.result or {}, post.result or {}, ctx.settings)
    return ComparisonOut(
        visit_id=visit.id,
        pre_measurement_id=pre.id,
        post_measurement_id=post.id,
        comparison=comparison,
    )
