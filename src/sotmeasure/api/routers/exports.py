"""Exports: clinical measurements with provenance, and the de-identified research table.

Who: admins (everything), practitioners (their clinic). Researchers only get the
research export (their clinic when they have one, else every clinic).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from sotmeasure.api.deps import ClinicalUser, CurrentUser, DbSession, clinic_scope
from sotmeasure.api.exporting import (
    ExportFilter,
    Format,
    encode,
    measurements_table,
    research_table,
)

router = APIRouter(prefix="/exports", tags=["exports"])

_MEDIA = {"csv": "text/csv; charset=utf-8", "parquet": "application/vnd.apache.parquet"}


def _filter(
    clinic_id: int | None,
    patient_id: int | None,
    practitioner_id: int | None,
    date_from: date | None,
    date_to: date | None,
) -> ExportFilter:
    if date_from and date_to and date_from > date_to:
        raise HTTPException(422, detail="date_from is after date_to")
    return ExportFilter(clinic_id, patient_id, practitioner_id, date_from, date_to)


def _file(data: bytes, name: str, fmt: Format) -> Response:
    return Response(
        content=data,
        media_type=_MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="{name}.{fmt}"',
            "Cache-Control": "no-store",
        },
    )


@router.get("/measurements.{fmt}", response_class=Response)
def export_measurements(
    fmt: Format,
    user: ClinicalUser,
    session: DbSession,
    clinic_id: int | None = None,
    patient_id: int | None = None,
    practitioner_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    frames: Annotated[bool, Query(description="Add per-frame values (JSON column).")] = False,
    identity: Annotated[bool, Query(description="Add patient name and birth date.")] = False,
    all_statuses: Annotated[bool, Query(description="Also pending/running/failed rows.")] = False,
) -> Response:
    """Measurements with numbers, CIs, blocking notes and provenance (CSV or Parquet)."""
    flt = _filter(clinic_id, patient_id, practitioner_id, date_from, date_to)
    if all_statuses:
        flt = replace(flt, only_done=False)
    table = measurements_table(
        session, flt, clinic_scope(user), include_frames=frames, include_identity=identity
    )
    return _file(encode(table, fmt), "measurements", fmt)


@router.get("/research.{fmt}", response_class=Response)
def export_research(
    fmt: Format,
    user: CurrentUser,
    session: DbSession,
    clinic_id: int | None = None,
    practitioner_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    frames: Annotated[bool, Query(description="Add per-frame values (JSON column).")] = False,
) -> Response:
    """De-identified finished measurements: hashed ids (new per export), no names or dates."""
    flt = _filter(clinic_id, None, practitioner_id, date_from, date_to)
    table = research_table(session, flt, clinic_scope(user), include_frames=frames)
    return _file(encode(table, fmt), "research", fmt)
