"""The setup pages: a clinic's setups per room, their versions, files, camera and calibration.

Thin like every page module: each handler calls `services.setups` (or the calibration and
camera services) with the page user, so the page can do what the API allows and no more.
Numbers come from the form as text and are validated by the same pydantic models as the
API's bodies (`services.setup_inputs`). See docs/web.md, "Setups".
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sotmeasure.capture.base import FrameSource
from sotmeasure.capture.open import source_kind
from sotmeasure.errors import SotmeasureError
from sotmeasure.services import setups as setup_service
from sotmeasure.services.access import get_visit
from sotmeasure.services.calibration_jobs import start_uploaded_calibration
from sotmeasure.services.cameras import camera_choices, camera_spec, default_board
from sotmeasure.services.errors import ServiceError
from sotmeasure.services.patients import clinics_to_choose
from sotmeasure.services.rig_checks import CheckedSetup, status_of
from sotmeasure.services.setup_inputs import (
    NUMBER_FIELDS,
    SetupCreate,
    SetupUpdate,
    SetupVersionCreate,
)
from sotmeasure.services.table_check import check_table_pose, frames_of_camera, frames_of_clip
from sotmeasure.services.visits import visit_measurements
from sotmeasure.store.models import User
from sotmeasure.web.pages import PageUser, _detail
from sotmeasure.web.session import same_origin
from sotmeasure.web.sources import LiveSpec, open_live
from sotmeasure.web.state import Ctx, Web

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])


async def _text(upload: UploadFile | None) -> str | None:
    """An uploaded file's text (None when no file was chosen)."""
    if upload is None or not upload.filename:
        return None
    return (await upload.read()).decode("utf-8", errors="replace")


async def _form_fields(request: Request) -> dict[str, Any]:
    """The number fields and note filled in on the form (blank fields: not sent)."""
    form = await request.form()
    sent: dict[str, Any] = {}
    for key in (*NUMBER_FIELDS, "note"):
        value = form.get(key)
        if isinstance(value, str) and value.strip():
            sent[key] = value.strip()
    return sent


def _setups_page(
    request: Request,
    ctx: Ctx,
    web: Web,
    user: User,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    with ctx.sessions() as session:
        rows = [
            (s, setup_service.current_version(session, s))
            for s in setup_service.list_setups(session, user)
        ]
        return web.templates.TemplateResponse(
            request,
            "setups.html",
            {
                "user": user,
                "rows": rows,
                "clinics": clinics_to_choose(session, user),
                "installation": setup_service.installation_setup_words(ctx.settings),
                "error": error,
            },
            status_code=status_code,
        )


@router.get("/setups", response_class=HTMLResponse)
def setups_page(request: Request, ctx: Ctx, web: Web, user: PageUser) -> HTMLResponse:
    return _setups_page(request, ctx, web, user)


@router.post("/setups", response_class=HTMLResponse)
async def create_setup(
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    name: Annotated[str, Form(max_length=200)],
    layout: UploadFile,
    room: Annotated[str | None, Form(max_length=200)] = None,
    profile: UploadFile | None = None,
    clinic_id: Annotated[str | None, Form()] = None,
    is_default: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        body = SetupCreate(
            name=name,
            room=room or None,
            layout_json=await _text(layout),
            profile_toml=await _text(profile),
            is_default=bool(is_default),
            clinic_id=int(clinic_id) if clinic_id else None,
            **await _form_fields(request),
        )
        with ctx.sessions() as session:
            created = setup_service.create_setup(ctx.settings, session, user, body)
    except (ServiceError, ValidationError) as exc:
        return _setups_page(request, ctx, web, user, _detail(exc), status_code=422)
    return RedirectResponse(f"/ui/setups/{created.id}", status_code=303)


def _setup_page(
    request: Request,
    ctx: Ctx,
    web: Web,
    user: User,
    setup_id: int,
    error: str | None = None,
    status_code: int = 200,
    check: dict[str, Any] | None = None,
) -> HTMLResponse:
    with ctx.sessions() as session:
        setup = setup_service.get_setup(session, user, setup_id)
        versions = setup_service.list_versions(session, user, setup_id)
        used = setup_service.measurements_per_version(session, versions)
        job = web.calibrations.latest(setup_id)
        rig = status_of(session, ctx.settings, CheckedSetup(versions[0], setup.clinic_id))
        return web.templates.TemplateResponse(
            request,
            "setup.html",
            {
                "user": user,
                "setup": setup,
                "current": versions[0],
                "versions": versions,
                "used": used,
                "cameras": camera_choices(ctx.settings),
                "number_fields": NUMBER_FIELDS,
                "error": error,
                "check": check,
                "job": job.to_dict() if job else None,
                "rig": rig,
            },
            status_code=status_code,
        )


@router.get("/setups/{setup_id}", response_class=HTMLResponse)
def setup_page(setup_id: int, request: Request, ctx: Ctx, web: Web, user: PageUser) -> HTMLResponse:
    return _setup_page(request, ctx, web, user, setup_id)


@router.post("/setups/{setup_id}/versions", response_class=HTMLResponse)
async def add_version(
    setup_id: int,
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    layout: UploadFile | None = None,
    profile: UploadFile | None = None,
    homography_only: Annotated[str | None, Form()] = None,
) -> Response:
    """An edit of numbers and/or files: a new version."""
    try:
        body = SetupVersionCreate(
            layout_json=await _text(layout),
            profile_toml=await _text(profile),
            homography_only=bool(homography_only),
            **await _form_fields(request),
        )
        with ctx.sessions() as session:
            setup_service.add_version(session, user, setup_id, body)
    except (ServiceError, ValidationError) as exc:
        return _setup_page(request, ctx, web, user, setup_id, _detail(exc), 422)
    return RedirectResponse(f"/ui/setups/{setup_id}", status_code=303)


@router.post("/setups/{setup_id}", response_class=HTMLResponse)
def update_setup(
    setup_id: int,
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    name: Annotated[str, Form(max_length=200)],
    room: Annotated[str | None, Form(max_length=200)] = None,
    camera: Annotated[str | None, Form(max_length=200)] = None,
    is_default: Annotated[str | None, Form()] = None,
) -> Response:
    """Name, room, camera and default: not versioned (no number changes)."""
    try:
        body = SetupUpdate(
            name=name, room=room or None, camera=camera or None, is_default=bool(is_default)
        )
        with ctx.sessions() as session:
            setup_service.update_setup(ctx.settings, session, user, setup_id, body)
    except (ServiceError, ValidationError) as exc:
        return _setup_page(request, ctx, web, user, setup_id, _detail(exc), 422)
    return RedirectResponse(f"/ui/setups/{setup_id}", status_code=303)


@router.post("/setups/{setup_id}/calibrate", response_class=HTMLResponse)
def calibrate(setup_id: int, request: Request, ctx: Ctx, web: Web, user: PageUser) -> Response:
    """Start recording a ChArUco clip with the setup's camera (or the configured stand-in)
    and calibrating from it; the page follows the job and shows the new version's quality."""
    from sotmeasure.geometry.layout import load_board

    try:
        with ctx.sessions() as session:
            chosen = setup_service.get_setup(session, user, setup_id).camera
        spec = camera_spec(ctx.settings, chosen)
        is_camera = source_kind(spec) == "webcam"
        board_json = default_board()
        web.calibrations.start_camera(
            user.id,
            setup_id,
            _live(spec),
            load_board(board_json),
            board_json,
            source_label=f"camera {spec}" if is_camera else f"recorded stand-in {spec}",
        )
    except SotmeasureError as exc:
        return _setup_page(request, ctx, web, user, setup_id, _detail(exc), 422)
    return RedirectResponse(f"/ui/setups/{setup_id}#calibration", status_code=303)


@router.post("/setups/{setup_id}/calibrate-upload", response_class=HTMLResponse)
async def calibrate_upload(
    setup_id: int,
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    clip: UploadFile,
) -> Response:
    """Calibrate from an uploaded ChArUco clip in the background (the same calibration and
    report); the page follows the job and reloads when it has ended."""
    name = clip.filename or "clip"

    def start() -> None:
        with ctx.sessions() as session:
            setup_service.get_setup(session, user, setup_id)  # not found: nothing is saved
        start_uploaded_calibration(
            ctx.calibrations,
            ctx.settings,
            user,
            setup_id,
            clip.file,
            clip.filename,
            None,
            default_board(),
            source_label=f"upload {name}",
        )

    try:
        await run_in_threadpool(start)
    except SotmeasureError as exc:
        return _setup_page(request, ctx, web, user, setup_id, _detail(exc), 422)
    return RedirectResponse(f"/ui/setups/{setup_id}#calibration", status_code=303)


@router.get("/setups/{setup_id}/calibration.json")
def calibration_state(setup_id: int, ctx: Ctx, web: Web, user: PageUser) -> JSONResponse:
    """The latest calibration job of the setup, for the page's progress (null: none)."""
    with ctx.sessions() as session:
        setup_service.get_setup(session, user, setup_id)
    job = web.calibrations.latest(setup_id)
    return JSONResponse(job.to_dict() if job else None)


@router.post("/setups/{setup_id}/table-check", response_class=HTMLResponse)
async def table_check(
    setup_id: int,
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    clip: UploadFile | None = None,
) -> HTMLResponse:
    """Check the table pose on an uploaded clip, or on frames of the setup's camera."""

    def run(saved: Path | None) -> dict[str, Any]:
        with ctx.sessions() as session:
            if saved is not None:
                images = frames_of_clip(saved)
            else:
                chosen = setup_service.get_setup(session, user, setup_id).camera
                images = frames_of_camera(_live(camera_spec(ctx.settings, chosen)))
            return check_table_pose(ctx.settings, session, user, setup_id, images)

    try:
        ctx.settings.tmp_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="table-check-", dir=ctx.settings.tmp_dir) as tmp:
            saved = None
            if clip is not None and clip.filename:
                saved = Path(tmp) / "clip.mp4"
                saved.write_bytes(await clip.read())
            report = await run_in_threadpool(run, saved)
    except SotmeasureError as exc:
        return _setup_page(request, ctx, web, user, setup_id, _detail(exc), 422)
    return _setup_page(request, ctx, web, user, setup_id, check=report)


def _live(spec: str) -> FrameSource:
    """The camera itself, or a recorded stand-in replayed once in real time."""
    is_camera = source_kind(spec) == "webcam"
    return open_live(LiveSpec(spec, is_demo=False, is_camera=is_camera, label=spec), loop=False)


@router.get("/visits/{visit_id}/setup", response_class=HTMLResponse)
def visit_setup_page(
    visit_id: int, request: Request, ctx: Ctx, web: Web, user: PageUser
) -> HTMLResponse:
    """Which setup this visit is measured with, and which version each measurement used."""
    with ctx.sessions() as session:
        visit = get_visit(session, user, visit_id)
        chosen = setup_service.setup_for_visit(session, visit)
        rows = [
            (m, setup_service.version_label(m.setup_version))
            for m in visit_measurements(session, visit.id)
        ]
        return web.templates.TemplateResponse(
            request,
            "visit_setup.html",
            {
                "user": user,
                "visit": visit,
                "patient": visit.patient,
                "setups": setup_service.list_setups(session, user, visit.patient.clinic_id),
                "chosen": chosen,
                "rows": rows,
            },
        )


@router.post("/visits/{visit_id}/setup")
def choose_visit_setup(
    visit_id: int,
    ctx: Ctx,
    user: PageUser,
    setup_id: Annotated[str | None, Form()] = None,
) -> Response:
    with ctx.sessions() as session:
        setup_service.choose_for_visit(session, user, visit_id, int(setup_id) if setup_id else None)
    return RedirectResponse(f"/ui/visits/{visit_id}/setup", status_code=303)
