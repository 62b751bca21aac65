"""Clinics and users. Admins manage both; everyone may list the clinic they belong to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from sqlalchemy import select

from sotmeasure.api.deps import AdminUser, CurrentUser, DbSession
from sotmeasure.api.schemas import ClinicIn, ClinicOut, UserCreate, UserOut, UserUpdate
from sotmeasure.services.errors import NotFoundError
from sotmeasure.store.accounts import (
    LAST_ADMIN,
    AccountError,
    create_user,
    hash_password,
    other_active_admins,
    revoke_user_tokens,
)
from sotmeasure.store.models import Clinic, Role, User

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
    """Add a clinic (admin)."""
    if session.scalar(select(Clinic.id).where(Clinic.name == body.name)) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, detail="a clinic with this name exists")
    clinic = Clinic(name=body.name)
    session.add(clinic)
    session.commit()
    return ClinicOut.model_validate(clinic)


@router.get("/users", response_model=list[UserOut])
def list_users(
    _admin: AdminUser, session: DbSession, limit: Limit = 100, offset: Offset = 0
) -> list[UserOut]:
    """Every user (admin)."""
    rows = session.scalars(select(User).order_by(User.id).limit(limit).offset(offset))
    return [UserOut.model_validate(u) for u in rows]


def _clinic_or_422(session: DbSession, clinic_id: int | None) -> Clinic | None:
    if clinic_id is None:
        return None
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="no such clinic")
    return clinic


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user_endpoint(body: UserCreate, _admin: AdminUser, session: DbSession) -> UserOut:
    """Add a user (admin). Practitioners need a clinic."""
    clinic = _clinic_or_422(session, body.clinic_id)
    try:
        user = create_user(
            session,
            email=body.email,
            password=body.password,
            role=body.role,
            clinic=clinic,
            full_name=body.full_name,
        )
    except AccountError as exc:
        code = status.HTTP_409_CONFLICT if "already exists" in str(exc) else 422
        raise HTTPException(code, detail=str(exc)) from exc
    session.commit()
    return UserOut.model_validate(user)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: int, _admin: AdminUser, session: DbSession) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user")
    return UserOut.model_validate(user)


@router.patch("/users/{user_id}", response_model=UserOut)
def update_user(user_id: int, body: UserUpdate, admin: AdminUser, session: DbSession) -> UserOut:
    """Change role, clinic, name, password or deactivate (admin). A new password, role or
    active status revokes every token the user holds (they log in again)."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("user")
    changes = body.model_dump(exclude_unset=True)
    before = (user.password_hash, user.role, user.active)
    if "clinic_id" in changes:
        _clinic_or_422(session, changes["clinic_id"])
        user.clinic_id = changes["clinic_id"]
    if changes.get("role") is not None:
        user.role = Role(changes["role"]).value
    if "full_name" in changes:
        user.full_name = changes["full_name"]
    if changes.get("active") is not None:
        if user.id == admin.id and not changes["active"]:
            raise HTTPException(422, detail="you cannot deactivate yourself")
        user.active = bool(changes["active"])
    if changes.get("password"):
        user.password_hash = hash_password(changes["password"])
    if user.role == Role.PRACTITIONER.value and user.clinic_id is None:
        raise HTTPException(422, detail="a practitioner must belong to a clinic")
    was_admin = before[1] == Role.ADMIN.value and before[2]
    still_admin = user.role == Role.ADMIN.value and user.active
    if was_admin and not still_admin and other_active_admins(session, user.id) == 0:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=LAST_ADMIN)
    if (user.password_hash, user.role, user.active) != before:
        revoke_user_tokens(session, user.id)
    session.commit()
    return UserOut.model_validate(user)
