"""Patients: list, create, change, delete; the patients page's overview; a patient's history."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sotmeasure.services.access import get_patient, scoped_patients
from sotmeasure.services.errors import ConflictError, InvalidInputError
from sotmeasure.services.inputs import PatientCreate, PatientUpdate
from sotmeasure.services.measurements import measurement_mode
from sotmeasure.store.models import (
    Clinic,
    Measurement,
    Mode,
    Patient,
    Role,
    Status,
    User,
    Visit,
)

DUPLICATE = "a patient with this code already exists in the clinic"


def list_patients(
    session: Session, user: User, *, code: str | None = None, limit: int = 100, offset: int = 0
) -> list[Patient]:
    """Patients the user may see, optionally only the one with `code`."""
    stmt = scoped_patients(select(Patient), user).order_by(Patient.id)
    if code is not None:  # codes are stored in NFC (services.inputs.check_patient_code)
        stmt = stmt.where(Patient.code == unicodedata.normalize("NFC", code))
    return list(session.scalars(stmt.limit(limit).offset(offset)))


def create_patient(session: Session, user: User, body: PatientCreate) -> Patient:
    """Add a patient to the practitioner's clinic (admins name the clinic); committed."""
    if user.role == Role.ADMIN.value:
        if body.clinic_id is None or session.get(Clinic, body.clinic_id) is None:
            raise InvalidInputError("admins must give an existing clinic_id")
        clinic_id = body.clinic_id
    else:
        if body.clinic_id is not None and body.clinic_id != user.clinic_id:
            raise InvalidInputError("you can only add patients to your own clinic")
        assert user.clinic_id is not None  # practitioners always have one (accounts.create_user)
        clinic_id = user.clinic_id
    exists = session.scalar(
        select(Patient.id).where(Patient.clinic_id == clinic_id, Patient.code == body.code)
    )
    if exists is not None:
        raise ConflictError(DUPLICATE)
    patient = Patient(
        clinic_id=clinic_id, code=body.code, name=body.name, birth_date=body.birth_date
    )
    session.add(patient)
    session.commit()
    return patient


def update_patient(session: Session, user: User, patient_id: int, body: PatientUpdate) -> Patient:
    patient = get_patient(session, user, patient_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("code") and changes["code"] != patient.code:
        clash = session.scalar(
            select(Patient.id).where(
                Patient.clinic_id == patient.clinic_id, Patient.code == changes["code"]
            )
        )
        if clash is not None:
            raise ConflictError(DUPLICATE)
        patient.code = changes["code"]
    if "name" in changes:
        patient.name = changes["name"]
    if "birth_date" in changes:
        patient.birth_date = changes["birth_date"]
    session.commit()
    return patient


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """One line of the patients page: the patient, how many visits, the last visit date."""

    patient: Patient
    visits: int
    last: date | None


def _search_key(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def matches(patient: Patient, query: str) -> bool:
    """The patient's code or name contains `query`, ignoring letter case in any script
    (compared in Python: SQLite's LIKE folds ASCII letters only)."""
    key = _search_key(query.strip())
    return key in _search_key(patient.code) or key in _search_key(patient.name or "")


def patient_overview(
    session: Session, user: User, query: str | None = None
) -> list[PatientSummary]:
    """The patients the user may see, by code, with their visit count and last visit; only
    those whose code or name contains `query` when one is given."""
    visit_counts = (
        select(
            Visit.patient_id,
            func.count(Visit.id).label("n"),
            func.max(Visit.visit_date).label("last"),
        )
        .group_by(Visit.patient_id)
        .subquery()
    )
    stmt = scoped_patients(select(Patient), user).order_by(Patient.code)
    rows = session.execute(
        stmt.add_columns(visit_counts.c.n, visit_counts.c.last).outerjoin(
            visit_counts, visit_counts.c.patient_id == Patient.id
        )
    )
    return [
        PatientSummary(p, n or 0, last)
        for p, n, last in rows
        if not (query and query.strip()) or matches(p, query)
    ]


def clinics_to_choose(session: Session, user: User) -> list[Clinic]:
    """Clinics an admin may add a patient to (practitioners have no choice: empty)."""
    if user.role != Role.ADMIN.value:
        return []
    return list(session.scalars(select(Clinic).order_by(Clinic.name)))


@dataclass(frozen=True, slots=True)
class Point:
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class VisitPoints:
    """The latest finished pre and post numbers of one visit."""

    visit_id: int
    label: str
    lld: dict[str, Point]  # phase -> point
    tilt: dict[str, Point]
    markerless_tilt: bool = False  # a tilt shown comes from the pose model's hip points


def patient_history(session: Session, patient_id: int) -> list[VisitPoints]:
    """Visits oldest first, each with the finished numbers it has (possibly none)."""
    visits = list(
        session.scalars(
            select(Visit).where(Visit.patient_id == patient_id).order_by(Visit.visit_date, Visit.id)
        )
    )
    out: list[VisitPoints] = []
    for visit in visits:
        rows = session.scalars(
            select(Measurement)
            .where(
                Measurement.visit_id == visit.id,
                Measurement.status == Status.DONE.value,
                Measurement.deleted_at.is_(None),
            )
            .order_by(Measurement.finished_at, Measurement.id)
        )
        lld: dict[str, Point] = {}
        tilt: dict[str, Point] = {}
        markerless: set[str] = set()  # phases whose shown tilt is markerless
        for row in rows:  # later rows of a phase overwrite earlier ones
            if row.lld_mm is None or row.lld_ci95_low_mm is None or row.lld_ci95_high_mm is None:
                continue
            lld[row.phase] = Point(row.lld_mm, row.lld_ci95_low_mm, row.lld_ci95_high_mm)
            if row.pelvic_tilt_deg is not None:
                tilt[row.phase] = Point(
                    row.pelvic_tilt_deg,
                    row.pelvic_tilt_ci95_low_deg or row.pelvic_tilt_deg,
                    row.pelvic_tilt_ci95_high_deg or row.pelvic_tilt_deg,
                )
                if measurement_mode(row) == Mode.STICKERS.value:
                    markerless.discard(row.phase)
                else:
                    markerless.add(row.phase)
        label = f"{visit.visit_date.isoformat()}\n#{visit.id}"
        out.append(VisitPoints(visit.id, label, lld, tilt, bool(markerless & tilt.keys())))
    return out
