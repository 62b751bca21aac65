"""Exports from the page: the exports form and its downloads with the login cookie.

The same service functions as the API's /exports (`services.exports`), called with the page
user, so the same authorisation applies: a practitioner gets their clinic's rows, an admin
every clinic's (or the one chosen). Researchers do not log in to the pages; they use the API.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from sotmeasure.services import exports, research
from sotmeasure.services import patients as patient_service
from sotmeasure.services.context import AppContext
from sotmeasure.services.errors import InvalidInputError, NotFoundError
from sotmeasure.services.exports import CHANGE_COLUMNS, Format
from sotmeasure.store.models import User
from sotmeasure.web.pages import PageUser
from sotmeasure.web.session import same_origin
from sotmeasure.web.state import Ctx, Web

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])

FormText = Annotated[str | None, Query(max_length=64)]


@router.get("/exports", response_class=HTMLResponse)
def exports_page(request: Request, ctx: Ctx, web: Web, user: PageUser) -> HTMLResponse:
    with ctx.sessions() as session:
        clinics = patient_service.clinics_to_choose(session, user)
        return web.templates.TemplateResponse(
            request,
            "exports.html",
            {"user": user, "clinics": clinics, "change_columns": CHANGE_COLUMNS},
        )


def _date(value: str | None, name: str) -> date | None:
    if not value or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInputError(f"{name}: not a date (YYYY-MM-DD)") from None


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "on", "yes")


def _file(data: bytes, name: str, fmt: Format) -> Response:
    return Response(
        content=data,
        media_type=exports.MEDIA_TYPES[fmt],
        headers=exports.download_headers(name, fmt),
    )


def _download(
    kind: Literal["measurements", "research"],
    fmt: Format,
    ctx: AppContext,
    user: User,
    clinic_id: str | None,
    patient_code: str | None,
    date_from: str | None,
    date_to: str | None,
    identity: str | None,
    frames: str | None,
    all_statuses: str | None,
) -> Response:
    """The clinical ("measurements") or de-identified ("research") export as a file."""
    with ctx.sessions() as session:
        patient_id = None
        if patient_code and patient_code.strip():
            found = patient_service.list_patients(session, user, code=patient_code.strip())
            if not found:
                raise NotFoundError(f"patient {patient_code.strip()!r}")
            patient_id = found[0].id
        flt = exports.export_filter(
            int(clinic_id) if clinic_id and clinic_id.isdigit() else None,
            patient_id,
            None,
            _date(date_from, "date_from"),
            _date(date_to, "date_to"),
            only_done=not _flag(all_statuses),
        )
        if kind == "research":
            data = research.export_research(
                session, user, flt, fmt, ctx.settings, include_frames=_flag(frames)
            )
        else:
            data = exports.export_measurements(
                session,
                user,
                flt,
                fmt,
                ctx.settings,
                include_frames=_flag(frames),
                include_identity=_flag(identity),
            )
    return _file(data, kind, fmt)


@router.get("/exports/measurements.{fmt}")
def measurements_download(
    fmt: Format,
    ctx: Ctx,
    user: PageUser,
    clinic_id: FormText = None,
    patient_code: FormText = None,
    date_from: FormText = None,
    date_to: FormText = None,
    identity: FormText = None,
    frames: FormText = None,
    all_statuses: FormText = None,
) -> Response:
    """The clinical export with the form's filters (the API's /exports/measurements)."""
    return _download(
        "measurements",
        fmt,
        ctx,
        user,
        clinic_id,
        patient_code,
        date_from,
        date_to,
        identity,
        frames,
        all_statuses,
    )


@router.get("/exports/research.{fmt}")
def research_download(
    fmt: Format,
    ctx: Ctx,
    user: PageUser,
    clinic_id: FormText = None,
    date_from: FormText = None,
    date_to: FormText = None,
    frames: FormText = None,
) -> Response:
    """The de-identified export with the form's filters (the API's /exports/research)."""
    return _download(
        "research", fmt, ctx, user, clinic_id, None, date_from, date_to, None, frames, None
    )
