"""Visits of a patient: create, list, read, change, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from sotmeasure.api.deps import ClinicalUser, DbSession, get_patient, get_visit
from sotmeasure.api.schemas import VisitCreate, VisitOut, VisitUpdate
from sotmeasure.store.models import Patient, Role, User, Visit

router = APIRouter(tags=["visits"])


def _check_practitioner(session: Session, patient: Patient, practitioner_id: int) -> None:
    """A visit's practitioner must be a practitioner or admin of the patient's clinic."""
    other = session.get(User, practitioner_id)
    if (
        other is None
        or other.role == Role.RESEARCHER.value
        or (other.role == Role.PRACTITIONER.value and other.clinic_id != patient.clinic_id)
    ):
        raise HTTPException(422, detail="practitioner_id is not a practitioner of this clinic")


@router.get("/patients/{patient_id}/visits", response_model=list[VisitOut])
def list_visits(
    patient_id: int,
    user: ClinicalUser,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[VisitOut]:
    """A patient's visits, newest first."""
    patient = get_patient(session, user, patient_id)
    stmt = (
        select(Visit)
        .where(Visit.patient_id == patient.id)
        .order_by(Visit.visit_date.desc(), Visit.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [VisitOut.model_validate(v) for v in session.scalars(stmt)]


@router.post(
    "/patients/{patient_id}/visits", response_model=VisitOut, status_code=status.HTTP_201_CREATED
)
def create_visit(
    patient_id: int, body: VisitCreate, user: ClinicalUser, session: DbSession
) -> VisitOut:
    """Open a visit (default date: today; default practitioner: the logged-in practitioner)."""
    patient = get_patient(session, user, patient_id)
    practitioner_id = body.practitioner_id
    if practitioner_id is None and user.role == Role.PRACTITIONER.value:
        practitioner_id = user.id
    if practitioner_id is not None:
        _check_practitioner(session, patient, practitioner_id)
    visit = Visit(
        patient_id=patient.id,
        practitioner_id=practitioner_id,
        visit_date=body.visit_date,
        notes=body.notes,
    )
    session.add(visit)
    session.commit()
    return VisitOut.model_validate(visit)


@router.get("/visits/{visit_id}", response_model=VisitOut)
def read_visit(visit_id: int, user: ClinicalUser, session: DbSession) -> VisitOut:
    return VisitOut.model_validate(get_visit(session, user, visit_id))


@router.patch("/visits/{visit_id}", response_model=VisitOut)
def update_visit(
    visit_id: int, body: VisitUpdate, user: ClinicalUser, session: DbSession
) -> VisitOut:
    visit = get_visit(session, user, visit_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("visit_date") is not None:
        visit.visit_date = changes["visit_date"]
    if "notes" in changes:
        visit.notes = changes["notes"]
    if "practitioner_id" in changes:
        if changes["practitioner_id"] is not None:
            _check_practitioner(session, visit.patient, changes["practitioner_id"])
        visit.practitioner_id = changes["practitioner_id"]
    session.commit()
    return VisitOut.model_validate(visit)


@router.delete("/visits/{visit_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_visit(visit_id: int, user: ClinicalUser, session: DbSession) -> None:
    """Delete a visit and its measurements (recording files stay)."""
    session.delete(get_visit(session, user, visit_id))
    session.commit()
