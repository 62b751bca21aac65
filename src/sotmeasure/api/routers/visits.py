"""Visits of a patient: create, list, read, change, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from sotmeasure.api.deps import ClinicalUser, Ctx, DbSession
from sotmeasure.api.schemas import VisitCreate, VisitOut, VisitUpdate
from sotmeasure.services import erasure, visits
from sotmeasure.services.access import get_visit

router = APIRouter(tags=["visits"])


@router.get("/patients/{patient_id}/visits", response_model=list[VisitOut])
def list_visits(
    patient_id: int,
    user: ClinicalUser,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[VisitOut]:
    """A patient's visits, newest first."""
    rows = visits.list_visits(session, user, patient_id, limit=limit, offset=offset)
    return [VisitOut.model_validate(v) for v in rows]


@router.post(
    "/patients/{patient_id}/visits", response_model=VisitOut, status_code=status.HTTP_201_CREATED
)
def create_visit(
    patient_id: int, body: VisitCreate, user: ClinicalUser, session: DbSession
) -> VisitOut:
    """Open a visit (default date: today; default practitioner: the logged-in practitioner)."""
    return VisitOut.model_validate(visits.create_visit(session, user, patient_id, body))


@router.get("/visits/{visit_id}", response_model=VisitOut)
def read_visit(visit_id: int, user: ClinicalUser, session: DbSession) -> VisitOut:
    return VisitOut.model_validate(get_visit(session, user, visit_id))


@router.patch("/visits/{visit_id}", response_model=VisitOut)
def update_visit(
    visit_id: int, body: VisitUpdate, user: ClinicalUser, session: DbSession
) -> VisitOut:
    return VisitOut.model_validate(visits.update_visit(session, user, visit_id, body))


@router.delete("/visits/{visit_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_visit(visit_id: int, ctx: Ctx, user: ClinicalUser, session: DbSession) -> None:
    """Erase a visit, its measurements and the recordings no other measurement uses."""
    erasure.erase_visit(ctx, session, user, visit_id)
