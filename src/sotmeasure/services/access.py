"""Who may see which row: clinic scoping (docs/api.md, "Roles").

Admins see everything; practitioners only their own clinic. A row of another clinic is
answered exactly like a row that does not exist (NotFoundError), so ids cannot be probed.
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from sotmeasure.services.errors import NotFoundError
from sotmeasure.store.models import Measurement, Patient, Recording, Role, User, Visit


def clinic_scope(user: User) -> int | None:
    """The clinic a user is confined to, or None for admins (and clinic-less researchers)."""
    if user.role == Role.ADMIN.value:
        return None
    return (
        user.clinic_id
        if user.clinic_id is not None
        else (None if user.role == Role.RESEARCHER.value else -1)
    )


def scoped_patients(stmt: Select[Patient], user: User) -> Select[Patient]:
    scope = clinic_scope(user)
    return stmt if scope is None else stmt.where(Patient.clinic_id == scope)


def get_patient(session: Session, user: User, patient_id: int) -> Patient:
    """The patient if it exists and the user may see it; otherwise NotFoundError."""
    patient = session.get(Patient, patient_id)
    scope = clinic_scope(user)
    if patient is None or (scope is not None and patient.clinic_id != scope):
        raise NotFoundError("patient")
    return patient


def get_visit(session: Session, user: User, visit_id: int) -> Visit:
    """The visit if it exists and the user may see it; otherwise NotFoundError.

    One query: the clinic is checked in a join (not by loading the patient after the
    visit), as every request for a visit's rows comes through here."""
    scope = clinic_scope(user)
    if scope is None:
        visit = session.get(Visit, visit_id)
    else:
        visit = session.scalar(
            select(Visit)
            .join(Patient, Visit.patient_id == Patient.id)
            .where(Visit.id == visit_id, Patient.clinic_id == scope)
        )
    if visit is None:
        raise NotFoundError("visit")
    return visit


def get_measurement(session: Session, user: User, measurement_id: int) -> Measurement:
    """The measurement if it exists and the user may see it (one query, as `get_visit`)."""
    scope = clinic_scope(user)
    if scope is None:
        row = session.get(Measurement, measurement_id)
    else:
        row = session.scalar(
            select(Measurement)
            .join(Visit, Measurement.visit_id == Visit.id)
            .join(Patient, Visit.patient_id == Patient.id)
            .where(Measurement.id == measurement_id, Patient.clinic_id == scope)
        )
    if row is None:
        raise NotFoundError("measurement")
    return row


def get_recording(session: Session, user: User, recording_id: int) -> Recording:
    """A recording is visible when one of its measurements is in the user's clinic."""
    recording = session.get(Recording, recording_id)
    if recording is None:
        raise NotFoundError("recording")
    scope = clinic_scope(user)
    if scope is None:
        return recording
    seen = session.scalar(
        select(Measurement.id)
        .join(Visit, Visit.id == Measurement.visit_id)
        .join(Patient, Patient.id == Visit.patient_id)
        .where(Measurement.recording_id == recording_id, Patient.clinic_id == scope)
        .limit(1)
    )
    if seen is None:
        raise NotFoundError("recording")
    return recording
