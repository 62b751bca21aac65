"""Server-rendered pages: login, patients, patient history, visit (pre/post), report.

The rules are the service's own: every change goes through `sotmeasure.services` (the same
functions the API's routers call), with the page user, so a page can do exactly what the
API allows and nothing else; another clinic's row is a 404. Every state-changing request
passes the router's `same_origin` dependency.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sotmeasure.errors import SotmeasureError
from sotmeasure.report.wording import MARKERLESS_TILT_CAVEAT, mode_words
from sotmeasure.services import measurements as measurement_service
from sotmeasure.services import patients as patient_service
from sotmeasure.services import visits as visit_service
from sotmeasure.services.access import get_measurement, get_patient, get_visit
from sotmeasure.services.comparison import (
    compare_visit,
    finished_phases,
    missing_phases,
    missing_sentence,
)
from sotmeasure.services.context import AppContext, measurements_processed
from sotmeasure.services.errors import ConflictError, InvalidInputError, ServiceError
from sotmeasure.services.inputs import PatientCreate, VisitCreate
from sotmeasure.services.rig_checks import setup_of_visit, status_of
from sotmeasure.store.accounts import authenticate, issue_token, revoke_token
from sotmeasure.store.models import Mode, Phase, Role, Status, User, Visit
from sotmeasure.web.capture import CaptureBusyError, new_job, start_capture
from sotmeasure.web.history import history_svg
from sotmeasure.web.report_frames import annotated_frame_png
from sotmeasure.web.session import (
    COOKIE_NAME,
    clear_login_cookie,
    require_page_user,
    safe_next,
    same_origin,
    set_login_cookie,
)
from sotmeasure.web.sources import resolve_live_spec
from sotmeasure.web.state import Ctx, Web, WebState
from sotmeasure.web.views import (
    ComparisonView,
    comparison_view,
    phase_view,
)

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])


def page_user(request: Request, ctx: Ctx) -> User:
    return require_page_user(ctx, request)


PageUser = Annotated[User, Depends(page_user)]


def _render(
    web: WebState, request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return web.templates.TemplateResponse(request, name, context, status_code=status_code)


def _detail(exc: ValidationError | SotmeasureError) -> str:
    """A one-line reason for the page from the service's answer or a form validation."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ()))
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        return f"{field}: {msg}" if field else msg
    return str(exc)


def _blank(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


# --- login ----------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, web: Web, next: str | None = None) -> HTMLResponse:
    return _render(web, request, "login.html", next=safe_next(next), error=None, user=None)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    ctx: Ctx,
    web: Web,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form()] = "/ui/patients",
) -> Response:
    """Check the password (argon2, off the event loop), set the token cookie, go on."""
    lifetime = timedelta(minutes=ctx.settings.token_lifetime_minutes)
    throttle = ctx.login_throttle
    address = request.client.host if request.client else None
    wait_s = throttle.begin(email, address)
    if wait_s is not None:
        page = _render(
            web,
            request,
            "login.html",
            status_code=429,
            next=safe_next(next),
            user=None,
            error=f"Too many failed logins: try again in {wait_s} s.",
        )
        page.headers["Retry-After"] = str(wait_s)
        return page

    def _issue() -> str | None:
        with ctx.sessions() as session:
            user = authenticate(session, email, password)
            if user is None or user.role == Role.RESEARCHER.value:
                return None
            token, _expires = issue_token(session, user, lifetime)
            session.commit()
            return token

    try:
        token = await run_in_threadpool(_issue)
    finally:
        throttle.end(email, address)
    if token is None:
        throttle.failed(email, address)
        return _render(
            web,
            request,
            "login.html",
            status_code=401,
            next=safe_next(next),
            user=None,
            error="Wrong e-mail or password (researcher accounts use the exports API).",
        )
    throttle.succeeded(email)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_login_cookie(response, token, int(lifetime.total_seconds()), web.web.cookie_secure)
    return response


@router.post("/logout")
def logout(request: Request, ctx: Ctx) -> Response:
    token = request.cookies.get(COOKIE_NAME)
    if token:
        with ctx.sessions() as session:
            revoke_token(session, token)
            session.commit()
    response = RedirectResponse("/ui/login", status_code=303)
    clear_login_cookie(response)
    return response


# --- patients -------------------------------------------------------------------------


def _patients_page(
    request: Request,
    ctx: AppContext,
    web: WebState,
    user: User,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
    query: str | None = None,
) -> HTMLResponse:
    with ctx.sessions() as session:
        rows = patient_service.patient_overview(session, user, query)
        clinics = patient_service.clinics_to_choose(session, user)
        return _render(
            web,
            request,
            "patients.html",
            status_code=status_code,
            user=user,
            rows=rows,
            clinics=clinics,
            error=error,
            form=form or {},
            query=query or "",
        )


@router.get("/patients", response_class=HTMLResponse)
def patients_page(
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    q: Annotated[str | None, Query(max_length=200)] = None,
) -> HTMLResponse:
    """The patients, or with `q` those whose code or name contains it (any letter case)."""
    return _patients_page(request, ctx, web, user, query=q)


@router.post("/patients", response_class=HTMLResponse)
def create_patient(
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    code: Annotated[str, Form(max_length=64)],
    name: Annotated[str | None, Form(max_length=200)] = None,
    birth_date: Annotated[str | None, Form()] = None,
    clinic_id: Annotated[str | None, Form()] = None,
) -> Response:
    form = {"code": code, "name": name or "", "birth_date": birth_date or ""}
    try:
        body = PatientCreate(
            code=code.strip(),
            name=_blank(name),
            birth_date=_blank(birth_date),  # type: ignore[arg-type]  # pydantic parses ISO
            clinic_id=int(clinic_id) if clinic_id else None,
        )
        with ctx.sessions() as session:
            created = patient_service.create_patient(session, user, body)
    except (ServiceError, ValidationError) as exc:
        return _patients_page(request, ctx, web, user, _detail(exc), form, status_code=422)
    except ValueError:  # a clinic id that is not a number
        return _patients_page(request, ctx, web, user, "choose a clinic", form, status_code=422)
    return RedirectResponse(f"/ui/patients/{created.id}", status_code=303)


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_page(
    patient_id: int,
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    error: str | None = None,
) -> HTMLResponse:
    with ctx.sessions() as session:
        patient = get_patient(session, user, patient_id)
        visits = visit_service.list_visits(session, user, patient.id)
        history = patient_service.patient_history(session, patient.id)
        by_visit = {h.visit_id: h for h in history}
        return _render(
            web,
            request,
            "patient.html",
            user=user,
            patient=patient,
            visits=visits,
            by_visit=by_visit,
            today=date.today().isoformat(),
            error=error,
            has_numbers=any(h.lld for h in history),
            tilt_caveat=MARKERLESS_TILT_CAVEAT if any(h.markerless_tilt for h in history) else None,
        )


@router.get("/patients/{patient_id}/history.svg")
def patient_history_svg(patient_id: int, ctx: Ctx, user: PageUser) -> Response:
    with ctx.sessions() as session:
        patient = get_patient(session, user, patient_id)
        history = patient_service.patient_history(session, patient.id)
        title = f"Patient {patient.code}: LLD and pelvic tilt per visit"
    svg = history_svg(history, title)
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-store"})


@router.post("/patients/{patient_id}/visits")
def create_visit(
    patient_id: int,
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    visit_date: Annotated[str | None, Form()] = None,
    notes: Annotated[str | None, Form(max_length=10_000)] = None,
) -> Response:
    try:
        fields: dict[str, Any] = {"notes": _blank(notes)}
        if _blank(visit_date):
            fields["visit_date"] = visit_date
        body = VisitCreate(**fields)
        with ctx.sessions() as session:
            created = visit_service.create_visit(session, user, patient_id, body)
    except (InvalidInputError, ValidationError) as exc:
        return patient_page(patient_id, request, ctx, web, user, error=_detail(exc))
    return RedirectResponse(f"/ui/visits/{created.id}", status_code=303)


# --- visit ----------------------------------------------------------------------------


def _comparison(ctx: AppContext, session: Session, visit: Visit) -> ComparisonView | None:
    """The visit's pre/post comparison as the page shows it; None until both are done."""
    try:
        compared = compare_visit(session, ctx.settings, visit)
    except ConflictError:  # a phase has no finished measurement yet
        return None
    return comparison_view(compared)


@router.get("/visits/{visit_id}", response_class=HTMLResponse)
def visit_page(visit_id: int, request: Request, ctx: Ctx, web: Web, user: PageUser) -> HTMLResponse:
    with ctx.sessions() as session:
        visit = get_visit(session, user, visit_id)
        rows = visit_service.visit_measurements(session, visit.id)
        phase = visit_service.next_phase(rows)
        try:
            spec_label = resolve_live_spec(ctx.settings.camera_source, phase).label
            source_error = None
        except SotmeasureError as exc:
            spec_label, source_error = "no camera source", str(exc)
        comparison = None
        comparison_error = None
        try:
            comparison = _comparison(ctx, session, visit)
        except SotmeasureError as exc:
            comparison_error = str(exc)
        missing = missing_phases(*finished_phases(session, visit))
        job = web.captures.latest_for_visit(visit.id)
        return _render(
            web,
            request,
            "visit.html",
            user=user,
            visit=visit,
            patient=visit.patient,
            measurements=[phase_view(r) for r in rows],
            phase=phase,
            source_label=spec_label,
            source_error=source_error,
            is_demo=ctx.settings.camera_source.strip().lower() == "demo",
            comparison=comparison,
            comparison_error=comparison_error,
            capture=job.to_dict() if job else None,
            worker_running=measurements_processed(ctx),
            capture_seconds=web.web.capture_seconds,
            rig_check=status_of(session, ctx.settings, setup_of_visit(session, visit)),
            missing_sentence=missing_sentence(missing) if missing and rows else None,
            modes=[(m.value, mode_words(m.value)) for m in Mode],
            default_mode=measurement_service.default_mode(ctx.settings).value,
        )


@router.get("/visits/{visit_id}/state.json")
def visit_state(visit_id: int, ctx: Ctx, web: Web, user: PageUser) -> JSONResponse:
    """What the visit page polls: the latest capture and every measurement's status."""
    with ctx.sessions() as session:
        visit = get_visit(session, user, visit_id)
        rows = visit_service.visit_measurements(session, visit.id)
        job = web.captures.latest_for_visit(visit.id)
        body = {
            "capture": job.to_dict() if job else None,
            "measurements": [
                {
                    "id": r.id,
                    "phase": r.phase,
                    "status": r.status,
                    "progress": round(r.progress or 0.0, 2),
                    "failure_reason": r.failure_reason,
                }
                for r in rows
            ],
            "next_phase": visit_service.next_phase(rows),
        }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


@router.post("/visits/{visit_id}/capture")
def capture(
    visit_id: int,
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    phase: Annotated[Phase, Form()],
    mode: Annotated[Mode | None, Form()] = None,
    blocks: Annotated[str | None, Form(max_length=200)] = None,
    placement: Annotated[str | None, Form(max_length=200)] = None,
    category: Annotated[str | None, Form(max_length=50)] = None,
) -> Response:
    """Start recording a window for `phase`; answers 202 with the job to poll (409 if busy)."""
    with ctx.sessions() as session:
        visit = get_visit(session, user, visit_id)
        clinic_id = visit.patient.clinic_id  # the camera is this clinic's while it records
    try:
        spec = resolve_live_spec(ctx.settings.camera_source, phase)
        job = new_job(
            visit.id,
            phase,
            user.id,
            clinic_id,
            spec,
            web.web.capture_seconds,
            {
                "blocks": _blank(blocks),
                "placement": _blank(placement),
                "category": _blank(category),
            },
            mode or measurement_service.default_mode(ctx.settings),
            live_wait_s=web.web.live_wait_s if web.web.live_measurement else None,
        )
        start_capture(ctx, web.hub, web.captures, job, spec)
    except CaptureBusyError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    except SotmeasureError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse(job.to_dict(), status_code=202)
    return RedirectResponse(f"/ui/visits/{visit.id}", status_code=303)


@router.post("/measurements/{measurement_id}/retry")
def retry(measurement_id: int, ctx: Ctx, user: PageUser) -> Response:
    """Queue a failed measurement again (the service's retry rule)."""
    with ctx.sessions() as session:
        row = measurement_service.retry_measurement(ctx, session, user, measurement_id)
        visit_id = row.visit_id
    return RedirectResponse(f"/ui/visits/{visit_id}", status_code=303)


# --- report frames (the report itself: web/report_page.py) ---------------------------


@router.get("/measurements/{measurement_id}/frame.png")
def measurement_frame(measurement_id: int, ctx: Ctx, user: PageUser) -> Response:
    with ctx.sessions() as session:
        row = get_measurement(session, user, measurement_id)
        if row.status != Status.DONE.value:
            raise HTTPException(409, detail="the measurement is not finished")
        try:
            png = annotated_frame_png(ctx, row)
        except SotmeasureError as exc:
            raise HTTPException(404, detail=str(exc)) from None
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})
