"""Measurements: poll one, list a visit's, import a finished result, correct one (notes,
relabel pre/post), retry a failed one, delete one (soft: kept for audit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession
from sotmeasure.api.schemas import MeasurementImport, MeasurementOut, MeasurementUpdate
from sotmeasure.services import measurements
from sotmeasure.services.access import get_measurement, get_visit
from sotmeasure.services.visits import visit_measurements

router = APIRouter(tags=["measurements"])

Full = Annotated[bool, Query(description="Include the complete stored result (per-frame values).")]


@router.get("/visits/{visit_id}/measurements", response_model=list[MeasurementOut])
def list_measurements(
    visit_id: int,
    user: ClinicalUser,
    session: DbSession,
    full: Full = False,
    include_deleted: Annotated[
        bool, Query(description="Also the deleted ones (for an audit; they carry deleted_at).")
    ] = False,
) -> list[MeasurementOut]:
    """The visit's measurements, oldest first (deleted ones only with include_deleted)."""
    visit = get_visit(session, user, visit_id)
    rows = visit_measurements(session, visit.id, include_deleted=include_deleted)
    return [MeasurementOut.from_row(r, full=full) for r in rows]


@router.post(
    "/visits/{visit_id}/measurements",
    response_model=MeasurementOut,
    status_code=status.HTTP_201_CREATED,
)
def import_measurement(
    visit_id: int, body: MeasurementImport, user: ClinicalUser, session: DbSession
) -> MeasurementOut:
    """Store a finished result (the `measure --json` contract) from another tool as `done`."""
    row = measurements.import_measurement(
        session, user, visit_id, phase=body.phase, blocking=body.blocking, result=body.result
    )
    return MeasurementOut.from_row(row)


@router.get("/measurements/{measurement_id}", response_model=MeasurementOut)
def read_measurement(
    measurement_id: int, user: ClinicalUser, session: DbSession, full: Full = False
) -> MeasurementOut:
    """Status, progress (0..1) and, once done, the numbers."""
    return MeasurementOut.from_row(get_measurement(session, user, measurement_id), full=full)


@router.patch("/measurements/{measurement_id}", response_model=MeasurementOut)
def update_measurement(
    measurement_id: int, body: MeasurementUpdate, user: ClinicalUser, session: DbSession
) -> MeasurementOut:
    """Change the blocking notes and/or relabel the phase (pre <-> post; who and when are
    recorded, `measured_phase` keeps the original). 409 for a deleted measurement."""
    row = measurements.update_measurement(session, user, measurement_id, body)
    return MeasurementOut.from_row(row)


@router.post("/measurements/{measurement_id}/retry", response_model=MeasurementOut)
def retry_measurement(
    measurement_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession
) -> MeasurementOut:
    """Queue a failed measurement again (its recording is still stored)."""
    return MeasurementOut.from_row(
        measurements.retry_measurement(ctx, session, user, measurement_id)
    )


@router.delete("/measurements/{measurement_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_measurement(measurement_id: int, user: ClinicalUser, session: DbSession) -> None:
    """Delete a measurement that is not being processed: kept for audit (who and when),
    hidden from lists, exports and comparisons; the recording file stays. 409 when it is
    being processed or already deleted."""
    measurements.delete_measurement(session, user, measurement_id)
