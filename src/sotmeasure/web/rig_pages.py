"""The rig check page: each setup's check status (every clinic setup's current version and
the installation setup), a form to run a check of a chosen setup on a clip of the printed
sheets, the sheets' PDF, and the stored checks. Rules in services.rig_checks."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from sotmeasure.geometry.check_sheet import HEEL, SHEETS, print_check_sheets
from sotmeasure.services import rig_checks
from sotmeasure.services.errors import ServiceError
from sotmeasure.services.setups import version_label
from sotmeasure.store.models import User
from sotmeasure.web.session import require_page_user, same_origin
from sotmeasure.web.state import Ctx, Web

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])


def _user(request: Request, ctx: Ctx) -> User:
    return require_page_user(ctx, request)


PageUser = Annotated[User, Depends(_user)]


def _page(
    request: Request,
    ctx: Ctx,
    web: Web,
    user: User,
    *,
    error: str | None = None,
    new_id: int | None = None,
    status_code: int = 200,
    chosen: int | None = None,
) -> HTMLResponse:
    with ctx.sessions() as session:
        statuses = rig_checks.setup_statuses(session, ctx.settings, user)
        default = rig_checks.setup_to_check(session, user, None)
        selected = rig_checks.setup_to_check(session, user, chosen) if chosen else default
        checks = rig_checks.list_rig_checks(session, user)
        return web.templates.TemplateResponse(
            request,
            "rig_check.html",
            {
                "user": user,
                "status": next(s for s in statuses if s.setup and s.setup.key == default.key),
                "statuses": statuses,
                "default_key": selected.key,
                "checks": [(c, version_label(c.checked_version)) for c in checks],
                "error": error,
                "new_id": new_id,
                "max_age_days": ctx.settings.rig_check_max_age_days,
                "tolerance_mm": ctx.settings.rig_check_tolerance_mm,
                "span_mm": SHEETS[HEEL].longest_offset()[2],
            },
            status_code=status_code,
        )


@router.get("/rig-check", response_class=HTMLResponse)
def rig_check_page(
    request: Request, ctx: Ctx, web: Web, user: PageUser, setup_id: int | None = None
) -> HTMLResponse:
    """`setup_id`: the setup chosen in the form (from a setup's page)."""
    return _page(request, ctx, web, user, chosen=setup_id)


@router.post("/rig-check", response_class=HTMLResponse)
async def run_rig_check(
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    file: Annotated[UploadFile, File()],
    heel_box_mm: Annotated[str | None, Form()] = None,
    hip_box_mm: Annotated[str | None, Form()] = None,
    setup_id: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Run the check on the uploaded clip (off the event loop) and show the page with it."""
    try:
        heights = {
            role: float(v)
            for role, v in (("heel", heel_box_mm), ("hip", hip_box_mm))
            if v is not None and v.strip()
        }
    except ValueError:
        return _page(
            request, ctx, web, user, error="box heights are numbers in mm", status_code=422
        )
    if not heights or any(not 0 <= h <= 1000 for h in heights.values()):
        return _page(
            request,
            ctx,
            web,
            user,
            error="give the measured height of each box (0-1000 mm; 0 = on the table top)",
            status_code=422,
        )

    chosen = int(setup_id) if setup_id and setup_id.isdigit() else None

    def _run() -> int:
        with ctx.sessions() as session:
            if chosen is None and setup_id != rig_checks.INSTALLATION_SETUP:
                target = rig_checks.setup_to_check(session, user, None)
            elif chosen is None:
                target = rig_checks.CheckedSetup(None, user.clinic_id)
            else:
                target = rig_checks.setup_to_check(session, user, chosen)
            row = rig_checks.run_uploaded_rig_check(
                ctx,
                session,
                user,
                file.file,
                filename=file.filename,
                heights_mm=heights,
                target=target,
            )
            return row.id

    try:
        new_id = await run_in_threadpool(_run)
    except ServiceError as exc:
        return _page(request, ctx, web, user, error=str(exc), status_code=exc.status_code)
    return _page(request, ctx, web, user, new_id=new_id)


@router.get("/rig-check/sheets.pdf")
def check_sheets_pdf(user: PageUser) -> Response:
    """The HEEL and HIP check sheets (two A4 pages, print at 100 %)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sotmeasure-check-sheets.pdf"
        print_check_sheets(out)
        pdf = out.read_bytes()
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": 'attachment; filename="sotmeasure-check-sheets.pdf"'},
    )
