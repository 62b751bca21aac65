"""Exports: clinical measurements with provenance, and the de-identified research table.

Who: admins (everything), practitioners (their clinic). Researchers only get the
research export (their clinic when they have one, else every clinic).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from sotmeasure.api.deps import ClinicalUser, Ctx, CurrentUser, DbSession
from sotmeasure.services import exports, research
from sotmeasure.services.exports import Format

router = APIRouter(prefix="/exports", tags=["exports"])


def _file(data: bytes, name: str, fmt: Format) -> Response:
    return Response(
        content=data,
        media_type=exports.MEDIA_TYPES[fmt],
        headers=exports.download_headers(name, fmt),
    )


@router.get("/measurements.{fmt}", response_class=Response)
def export_measurements(
    fmt: Format,
    user: ClinicalUser,
    session: DbSession,
    ctx: Ctx,
    clinic_id: int | None = None,
    patient_id: int | None = None,
    practitioner_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    frames: Annotated[bool, Query(description="Add per-frame values (JSON column).")] = False,
    identity: Annotated[bool, Query(description="Add patient name and birth date.")] = False,
    all_statuses: Annotated[bool, Query(description="Also pending/running/failed rows.")] = False,
) -> Response:
    """Measurements with numbers, CIs, blocking notes, the visit's change with its CI and
    verdicts (`visit_*` columns, as GET /visits/{id}/comparison), provenance (CSV or Parquet).
    """
    flt = exports.export_filter(
        clinic_id, patient_id, practitioner_id, date_from, date_to, only_done=not all_statuses
    )
    data = exports.export_measurements(
        session, user, flt, fmt, ctx.settings, include_frames=frames, include_identity=identity
    )
    return _file(data, "measurements", fmt)


@router.get("/research.{fmt}", response_class=Response)
def export_research(
    fmt: Format,
    user: CurrentUser,
    session: DbSession,
    ctx: Ctx,
    clinic_id: int | None = None,
    practitioner_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    frames: Annotated[bool, Query(description="Add per-frame values (JSON column).")] = False,
    study: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A study name: references stay the same in every export of the study "
            "(keyed with the study's server-side secret); without it, new ones per export.",
        ),
    ] = None,
) -> Response:
    """De-identified finished measurements: keyed-hash ids, relative days, no names,
    dates, file names or recording hashes (docs/api.md, "Research export")."""
    flt = exports.export_filter(clinic_id, None, practitioner_id, date_from, date_to)
    data = research.export_research(
        session, user, flt, fmt, ctx.settings, include_frames=frames, study=study
    )
    return _file(data, "research", fmt)
