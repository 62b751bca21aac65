"""Measurements: poll one, list a visit's, import a finished result, edit notes, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession, get_measurement, get_visit
from sotmeasure.api.schemas import BlockingNotes, MeasurementImport, MeasurementOut
from sotmeasure.jobs.results import apply_result, clear_result
from sotmeasure.store.models import Measurement, Status
from sotmeasure.store.types import utcnow

router = APIRouter(tags=["measurements"])

Full = Annotated[bool, Query(description="Include the complete stored result (per-frame values).")]


@router.get("/visits/{visit_id}/measurements", response_model=list[MeasurementOut])
def list_measurements(
    visit_id: int, user: ClinicalUser, session: DbSession, full: Full = False
) -> list[MeasurementOut]:
    """The visit's measurements, oldest first."""
    visit = get_visit(session, user, visit_id)
    rows = session.scalars(
        select(Measurement).where(Measurement.visit_id == visit.id).order_by(Measurement.id)
    )
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
    visit = get_visit(session, user, visit_id)
    now = utcnow()
    row = Measurement(
        visit_id=visit.id,
        recording_id=None,
        phase=body.phase.value,
        source="import",
        status=Status.DONE.value,
        progress=1.0,
        attempts=0,
        created_by_id=user.id,
        started_at=now,
        finished_at=now,
        blocking_blocks=body.blocking.blocks,
        blocking_placement=body.blocking.placement,
        blocking_category=body.blocking.category,
    )
    apply_result(row, body.result)
    session.add(row)
    session.commit()
    return MeasurementOut.from_row(row)


@router.get("/measurements/{measurement_id}", response_model=MeasurementOut)
def read_measurement(
    measurement_id: int, user: ClinicalUser, session: DbSession, full: Full = False
) -> MeasurementOut:
    """Status, progress (0..1) and, once done, the numbers."""
    return MeasurementOut.from_row(get_measurement(session, user, measurement_id), full=full)


@router.patch("/measurements/{measurement_id}", response_model=MeasurementOut)
def update_blocking_notes(
    measurement_id: int, body: BlockingNotes, user: ClinicalUser, session: DbSession
) -> MeasurementOut:
    """Change the blocking notes (which blocks, where, category)."""
    row = get_measurement(session, user, measurement_id)
    changes = body.model_dump(exclude_unset=True)
    if "blocks" in changes:
        row.blocking_blocks = changes["blocks"]
    if "placement" in changes:
        row.blocking_placement = changes["placement"]
    if "category" in changes:
        row.blocking_category = changes["category"]
    session.commit()
    return MeasurementOut.from_row(row)


@router.post("/measurements/{measurement_id}/retry", response_model=MeasurementOut)
def retry_measurement(
    measurement_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession
) -> MeasurementOut:
    """Queue a failed measurement again (its recording is still stored)."""
    row = get_measurement(session, user, measurement_id)
    if row.status != Status.FAILED.value or row.recording_id is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"only a failed measurement of a stored recording can be retried "
            f"(this one is {row.status})",
        )
    clear_result(row)
    row.status = Status.PENDING.value
    row.progress = 0.0
    row.failure_reason = None
    row.started_at = None
    row.finished_at = None
    session.commit()
    ctx.wake_worker()
    return MeasurementOut.from_row(row)


@router.delete("/measurements/{measurement_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_measurement(measurement_id: int, user: ClinicalUser, session: DbSession) -> None:
    """Delete a measurement that is not being processed (the recording file stays)."""
    row = get_measurement(session, user, measurement_id)
    if row.status == Status.RUNNING.value:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="the measurement is being processed")
    session.delete(row)
    session.commit()
