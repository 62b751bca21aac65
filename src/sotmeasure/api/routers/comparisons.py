"""GET /visits/{id}/comparison: post - pre of the visit, computed on request (see
services.comparison for why it is never stored)."""

from __future__ import annotations

from fastapi import APIRouter

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession
from sotmeasure.api.schemas import ComparisonOut
from sotmeasure.services.access import get_visit
from sotmeasure.services.comparison import compare_visit

router = APIRouter(tags=["comparisons"])


@router.get("/visits/{visit_id}/comparison", response_model=ComparisonOut)
def visit_comparison(
    visit_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession
) -> ComparisonOut:
    """Change post - pre with its 95% CI and verdicts (409 until both phases are done)."""
    visit = get_visit(session, user, visit_id)
    compared = compare_visit(session, ctx.settings, visit)
    return ComparisonOut(
        visit_id=visit.id,
        pre_measurement_id=compared.pre_row.id,
        post_measurement_id=compared.post_row.id,
        comparison=compared.comparison.to_dict(),
    )
