"""Visits of a patient, and which measurement of a visit counts for each phase."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from sotmeasure.services.access import get_patient, get_visit
from sotmeasure.services.errors import InvalidInputError
from sotmeasure.services.inputs import VisitCreate, VisitUpdate
from sotmeasure.store.models import Measurement, Patient, Phase, Role, Status, User, Visit


def _check_practitioner(session: Session, patient: Patient, practitioner_id: int) -> None:
    """A visit's practitioner must be a practitioner or admin of the patient's clinic."""
    other = session.get(User, practitioner_id)
    if (
        other is None
        or other.role == Role.RESEARCHER.value
        or (other.role == Role.PRACTITIONER.value and other.clinic_id != patient.clinic_id)
    ):
        raise InvalidInputError("practitioner_id is not a practitioner of this clinic")


def list_visits(
    session: Session, user: User, patient_id: int, *, limit: int | None = None, offset: int = 0
) -> list[Visit]:
    """A patient's visits, newest first."""
    patient = get_patient(session, user, patient_id)
    stmt = (
        select(Visit)
        .where(Visit.patient_id == patient.id)
        .order_by(Visit.visit_date.desc(), Visit.id.desc())
        .offset(offset)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


def create_visit(session: Session, user: User, patient_id: int, body: VisitCreate) -> Visit:
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
    return visit


def update_visit(session: Session, user: User, visit_id: int, body: VisitUpdate) -> Visit:
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
    return visit


def visit_measurements(
    session: Session, visit_id: int, *, include_deleted: bool = False
) -> list[Measurement]:
    """The visit's measurements, oldest first; deleted ones only for the audit view."""
    stmt = select(Measurement).where(Measurement.visit_id == visit_id)
    if not include_deleted:
        stmt = stmt.where(Measurement.deleted_at.is_(None))
    return list(session.scalars(stmt.order_by(Measurement.id)))


def latest_done(session: Session, visit_id: int, phase: Phase) -> Measurement | None:
    """The most recent finished measurement of a phase (a repeat supersedes earlier ones)."""
    return session.scalar(
        select(Measurement)
        .where(
            Measurement.visit_id == visit_id,
            Measurement.phase == phase.value,
            Measurement.status == Status.DONE.value,
            Measurement.deleted_at.is_(None),
        )
        .order_by(Measurement.finished_at.desc(), Measurement.id.desc())
        .limit(1)
    )


def next_phase(rows: list[Measurement]) -> Phase:
    """Pre until a pre measurement exists that is not failed, then post."""
    has_pre = any(r.phase == Phase.PRE.value and r.status != Status.FAILED.value for r in rows)
    return Phase.POST if has_pre else Phase.PRE
