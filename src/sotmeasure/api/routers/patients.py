"""Patients: create, list, read, change, delete (admins and practitioners of the clinic)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from sotmeasure.api.deps import ClinicalUser, DbSession, get_patient, scoped_patients
from sotmeasure.api.schemas import PatientCreate, PatientOut, PatientUpdate
from sotmeasure.store.models import Clinic, Patient, Role

router = APIRouter(prefix="/patients", tags=["patients"])

_DUPLICATE = "a patient with this code already exists in the clinic"


@router.get("", response_model=list[PatientOut])
def list_patients(
    user: ClinicalUser,
    session: DbSession,
    code: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PatientOut]:
    """Patients the user may see, optionally only the one with `code`."""
    stmt = scoped_patients(select(Patient), user).order_by(Patient.id)
    if code is not None:
        stmt = stmt.where(Patient.code == code)
    return [PatientOut.model_validate(p) for p in session.scalars(stmt.limit(limit).offset(offset))]


@router.post("", response_model=PatientOut, status_code=status.HTTP_201_CREATED)
def create_patient(body: PatientCreate, user: ClinicalUser, session: DbSession) -> PatientOut:
    """Add a patient to the practitioner's clinic (admins name the clinic)."""
    if user.role == Role.ADMIN.value:
        if body.clinic_id is None or session.get(Clinic, body.clinic_id) is None:
            raise HTTPException(422, detail="admins must give an existing clinic_id")
        clinic_id = body.clinic_id
    else:
        if body.clinic_id is not None and body.clinic_id != user.clinic_id:
            raise HTTPException(422, detail="you can only add patients to your own clinic")
        assert user.clinic_id is not None  # practitioners always have one (accounts.create_user)
        clinic_id = user.clinic_id
    exists = session.scalar(
        select(Patient.id).where(Patient.clinic_id == clinic_id, Patient.code == body.code)
    )
    if exists is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=_DUPLICATE)
    patient = Patient(
        clinic_id=clinic_id, code=body.code, name=body.name, birth_date=body.birth_date
    )
    session.add(patient)
    session.commit()
    return PatientOut.model_validate(patient)


@router.get("/{patient_id}", response_model=PatientOut)
def read_patient(patient_id: int, user: ClinicalUser, session: DbSession) -> PatientOut:
    return PatientOut.model_validate(get_patient(session, user, patient_id))


@router.patch("/{patient_id}", response_model=PatientOut)
def update_patient(
    patient_id: int, body: PatientUpdate, user: ClinicalUser, session: DbSession
) -> PatientOut:
    patient = get_patient(session, user, patient_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("code") and changes["code"] != patient.code:
        clash = session.scalar(
            select(Patient.id).where(
                Patient.clinic_id == patient.clinic_id, Patient.code == changes["code"]
            )
        )
        if clash is not None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=_DUPLICATE)
        patient.code = changes["code"]
    if "name" in changes:
        patient.name = changes["name"]
    if "birth_date" in changes:
        patient.birth_date = changes["birth_date"]
    session.commit()
    return PatientOut.model_validate(patient)


@router.delete("/{patient_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_patient(patient_id: int, user: ClinicalUser, session: DbSession) -> None:
    """Delete a patient with every visit and measurement (recording files stay)."""
    session.delete(get_patient(session, user, patient_id))
    session.commit()
