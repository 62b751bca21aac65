"""GET /visits/{id}/comparison: post - pre of the visit, computed on request (see
services.comparison for why it is never stored); GET /visits/{id}/report.pdf: the visit
report as the pages print it."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession
from sotmeasure.api.schemas import ComparisonOut, ErrorOut
from sotmeasure.report.pdf import PdfUnavailableError
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


@router.get(
    "/visits/{visit_id}/report.pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}, "description": "the report (A4, <= 2 pages)"},
        503: {"model": ErrorOut, "description": "this server has no PDF renderer (reason)"},
    },
)
def visit_report_pdf(visit_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession) -> Response:
    """The visit report as PDF: the same document as the printable page (/ui/visits/{id}/report)."""
    found = get_visit(session, user, visit_id).id
    # Hold no transaction while Chromium prints; close (not commit) so that `user` keeps
    # its loaded attributes for the renderer's own session (SQLite allows one writer).
    session.close()
    if ctx.visit_report_pdf is None:
        raise PdfUnavailableError("this server runs without its pages, which make the report")
    pdf = ctx.visit_report_pdf(user, found)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="visit-{found}-report.pdf"'},
    )
