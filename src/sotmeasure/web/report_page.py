"""The visit report: the printable page (/ui/visits/{id}/report) and its server-side PDF.

One template (report.html) serves both, so the PDF is the printable page: for the PDF the
stylesheets and the annotated frames are inlined (data: URIs) and the page is printed by
headless Chromium (`report.pdf.html_to_pdf`). The API's `GET /visits/{id}/report.pdf`
reaches the same function through `AppContext.visit_report_pdf`, which `mount_web` sets
(the API does not import the pages).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from sotmeasure.errors import SotmeasureError
from sotmeasure.report.pdf import html_to_pdf
from sotmeasure.report.wording import (
    VERDICT_EXPLANATION,
    budget_sentences,
    person_name,
)
from sotmeasure.services.access import get_visit
from sotmeasure.services.assisted import latest_assisted
from sotmeasure.services.comparison import (
    compare_visit,
    finished_phases,
    missing_phases,
    missing_sentence,
)
from sotmeasure.services.context import AppContext
from sotmeasure.services.errors import ConflictError, NotFoundError
from sotmeasure.services.measurements import stored_result
from sotmeasure.store.models import Measurement, User
from sotmeasure.web.landmark_pages import assisted_view
from sotmeasure.web.report_frames import annotated_frame_png
from sotmeasure.web.session import require_page_user, same_origin
from sotmeasure.web.state import STATIC_DIR, Ctx, Web, WebState
from sotmeasure.web.views import (
    captured_from_demo_source,
    comparison_view,
    phase_view,
    provenance_items,
)

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])


def css_string(text: str) -> str:
    """`text` as a CSS string literal's content (for the @page running header): quotes,
    backslashes and `<` escaped so that nothing can end the string or the style element."""
    out = []
    for ch in text:
        if ch in '"\\<>&' or not ch.isprintable():
            out.append(f"\\{ord(ch):x} ")
        else:
            out.append(ch)
    return "".join(out)


def _frame_src(ctx: AppContext, row: Measurement, inline: bool) -> str | None:
    """The annotated frame: its URL on the page, a data: URI in the PDF (None: no frame)."""
    if not inline:
        return f"/ui/measurements/{row.id}/frame.png"
    try:
        png = annotated_frame_png(ctx, row)
    except SotmeasureError:
        return None
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _phase(ctx: AppContext, session: Session, row: Measurement, inline: bool) -> dict[str, Any]:
    result = stored_result(row)
    return {
        "view": phase_view(row),
        "assisted": assisted_view(latest_assisted(session, row.id)),
        "budget": budget_sentences(result),
        "provenance": provenance_items(row),
        "frame_src": _frame_src(ctx, row, inline),
        "demo": captured_from_demo_source(row),
        "window": f"{result.window_start_s or 0:.1f}–{result.window_end_s or 0:.1f} s",
    }


def provenance_table(phases: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The appendix: one row per provenance item, one column per phase."""
    keys: list[str] = []
    for p in phases:
        keys += [k for k, _ in p["provenance"] if k not in keys]
    return [(k, [dict(p["provenance"]).get(k, "-") for p in phases]) for k in keys]


def report_context(
    ctx: AppContext, session: Session, user: User, visit_id: int, *, inline: bool
) -> dict[str, Any]:
    """Everything report.html prints, for the page (inline=False) or the PDF (inline=True)."""
    visit = get_visit(session, user, visit_id)
    pre, post = finished_phases(session, visit)
    phases = [_phase(ctx, session, row, inline) for row in (pre, post) if row is not None]
    comparison = None
    comparison_error = None
    try:
        comparison = comparison_view(compare_visit(session, ctx.settings, visit))
    except ConflictError:
        missing = missing_phases(pre, post)
        comparison_error = missing_sentence(missing) if phases else None
    except SotmeasureError as exc:
        comparison_error = str(exc)
    practitioner = visit.practitioner
    patient = visit.patient
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {
        "user": user,
        "visit": visit,
        "patient": patient,
        "clinic": patient.clinic,
        "practitioner_name": (
            person_name(practitioner.full_name, practitioner.email) if practitioner else "-"
        ),
        "phases": phases,
        "provenance_rows": provenance_table(phases),
        "comparison": comparison,
        "comparison_error": comparison_error,
        "verdict_explanation": VERDICT_EXPLANATION,
        "generated": generated,
        "running_header": css_string(f"Patient {patient.code} · visit {visit.visit_date}"),
        "running_footer": css_string(f"sotmeasure report · generated {generated}"),
        "inline_css": _inline_css() if inline else None,
        "pdf": inline,
    }


def _inline_css() -> str:
    return "\n".join(
        (STATIC_DIR / name).read_text(encoding="utf-8") for name in ("style.css", "report.css")
    )


def render_visit_pdf(web: WebState, user: User, visit_id: int) -> bytes:
    """The visit report as PDF bytes (the printable page printed by headless Chromium)."""
    ctx = web.ctx
    with ctx.sessions() as session:
        own = session.get(User, user.id)  # the caller's object may belong to a closed session
        if own is None:
            raise NotFoundError("user")
        context = report_context(ctx, session, own, visit_id, inline=True)
        html = web.templates.get_template("report.html").render(context)
    return html_to_pdf(html, work_dir=ctx.settings.tmp_dir)


def pdf_filename(visit_id: int) -> str:
    return f"visit-{visit_id}-report.pdf"


@router.get("/visits/{visit_id}/report", response_class=HTMLResponse)
def report_page(visit_id: int, request: Request, ctx: Ctx, web: Web) -> HTMLResponse:
    user = require_page_user(ctx, request)
    with ctx.sessions() as session:
        context = report_context(ctx, session, user, visit_id, inline=False)
        return web.templates.TemplateResponse(request, "report.html", context)


@router.get("/visits/{visit_id}/report.pdf")
def report_pdf(visit_id: int, request: Request, ctx: Ctx, web: Web) -> Response:
    """The report as a PDF download (503 with the reason when this server has no renderer)."""
    user = require_page_user(ctx, request)
    pdf = render_visit_pdf(web, user, visit_id)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{pdf_filename(visit_id)}"',
            "Cache-Control": "no-store",
        },
    )
