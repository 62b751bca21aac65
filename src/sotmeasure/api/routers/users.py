"""Clinics and users. Admins manage both; everyone may list the clinic they belong to and
change their own password (with the current one). The rules are `services.accounts`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from sotmeasure.api.deps import AdminUser, CurrentUser, DbSession
from sotmeasure.api.schemas import ClinicIn, ClinicOut, UserCreate, UserOut, UserUpdate
from sotmeasure.services import accounts
from sotmeasure.store.models import Clinic, Role

router = APIRouter(tags=["users"])

Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


@router.get("/clinics", response_model=list[ClinicOut])
def list_clinics(user: CurrentUser, session: DbSession) -> list[ClinicOut]:
    """Admins: every clinic. Others: their own clinic (if any)."""
    stmt = select(Clinic).order_by(Clinic.id)
    if user.role != Role.ADMIN.value:
        stmt = stmt.where(Clinic.id == (user.clinic_id if user.clinic_id is not None else -1))
    return [ClinicOut.model_validate(c) for c in session.scalars(stmt)]


@router.post("/clinics", response_model=ClinicOut, status_code=status.HTTP_201_CREATED)
def create_clinic(body: ClinicIn, _admin: AdminUser, session: DbSession) -> ClinicOut:
    """Add a clinic (admin); 409 when one of that name exists, ignoring letter case."""
    return ClinicOut.model_validate(accounts.create_clinic(session, body.name))


@router.get("/users", response_model=list[UserOut])
def list_users(
    _admin: AdminUser, session: DbSession, limit: Limit = 100, offset: Offset = 0
) -> list[UserOut]:
    """Every user (admin)."""
    return [
        UserOut.model_validate(u) for u in accounts.list_users(session, limit=limit, offset=offset)
    ]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user_endpoint(body: UserCreate, _admin: AdminUser, session: DbSession) -> UserOut:
    """Add a user (admin). Practitioners need a clinic."""
    user = accounts.add_user(
        session,
        email=body.email,
        password=body.password,
        role=body.role,
        clinic_id=body.clinic_id,
        full_name=body.full_name,
    )
    return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: int, _admin: AdminUser, session: DbSession) -> UserOut:
    return UserOut.model_validate(accounts.get_user(session, user_id))


_ONLY_OWN_PASSWORD = "you may only change your own password (send password and current_password)"


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: int, body: UserUpdate, user: CurrentUser, session: DbSession) -> UserOut:
    """Admins: change role, clinic, name, password or deactivate. Anyone: their own
    password, with `current_password` (required for one's own password, admins too). A new
    password, role or active status revokes every token the user holds (they log in again).
    """
    changes = body.model_dump(exclude_unset=True)
    current = changes.pop("current_password", None)
    if user_id == user.id and "password" in changes:
        if current is None:
            raise HTTPException(422, detail="give current_password to change your own password")
        new = changes.pop("password")
        if changes and user.role != Role.ADMIN.value:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail=_ONLY_OWN_PASSWORD)
        if new is None:
            raise HTTPException(422, detail="password: a new password is required")
        accounts.change_own_password(session, user.id, current, new)
        if not changes:
            return UserOut.model_validate(accounts.get_user(session, user_id))
    if user.role != Role.ADMIN.value:
        detail = _ONLY_OWN_PASSWORD if user_id == user.id else "only an admin may do this"
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=detail)
    return UserOut.model_validate(accounts.update_user(session, user.id, user_id, changes))
