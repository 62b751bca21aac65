"""Patients: create, list, read, change, delete (admins and practitioners of the clinic)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession
from sotmeasure.api.schemas import PatientCreate, PatientOut, PatientUpdate
from sotmeasure.services import erasure, patients
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
def delete_patient(patient_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession) -> None:
    """Erase a patient: every visit and measurement, and the recordings (rows and files)
    no other measurement uses; 409 while one of them is being processed (docs/api.md,
    "Erasure")."""
    erasure.erase_patient(ctx, session, user, patient_id)
