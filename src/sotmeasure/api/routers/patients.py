"""Patients: create, list, read, change, delete (admins and practitioners of the clinic)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from sotmeasure.api.deps import ClinicalUser, DbSession
from sotmeasure.api.schemas import PatientCreate, PatientOut, PatientUpdate
from sotmeasure.services import patients
from sotmeasure.services.access import get_patient

router = APIRouter(prefix="/patients", tags=["patients"])


@router.get("", response_model=list[PatientOut])
def list_patients(
    user: ClinicalUser,
    session: DbSession,
    code: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[PatientOut]:
    """Patients the user may see, optionally only the one with `code`."""
    rows = patients.list_patients(session, user, code=code, limit=limit, offset=offset)
    return [PatientOut.model_validate(p) for p in rows]


@router.post("", response_model=PatientOut, status_code=status.HTTP_201_CREATED)
def create_patient(body: PatientCreate, user: ClinicalUser, session: DbSession) -> PatientOut:
    """Add a patient to the practitioner's clinic (admins name the clinic)."""
    return PatientOut.model_validate(patients.create_patient(session, user, body))


@router.get("/{patient_id}", response_model=PatientOut)
def read_patient(patient_id: int, user: ClinicalUser, session: DbSession) -> PatientOut:
    return PatientOut.model_validate(get_patient(session, user, patient_id))


@router.patch("/{patient_id}", response_model=PatientOut)
def update_patient(
    patient_id: int, body: PatientUpdate, user: ClinicalUser, session: DbSession
) -> PatientOut:
    return PatientOut.model_validate(patients.update_patient(session, user, patient_id, body))


@router.delete("/{patient_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_patient(patient_id: int, user: ClinicalUser, session: DbSession) -> None:
    """Delete a patient with every visit and measurement (recording files stay)."""
    patients.delete_patient(session, user, patient_id)
