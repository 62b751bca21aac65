"""FastAPI dependencies: the app context, a database session per request, the current user.

Roles (docs/api.md): admins do everything; practitioners see only their own clinic (rows
of another clinic are answered 404, exactly like rows that do not exist, so ids cannot be
probed); researchers only read de-identified exports (403 elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import Select
from sqlalchemy.orm import Session

from sotmeasure.api.context import AppContext
from sotmeasure.store.accounts import user_for_token
from sotmeasure.store.models import Measurement, Patient, Role, User, Visit

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)

NOT_AUTHENTICATED = "not authenticated: log in and send the token as 'Authorization: Bearer ...'"


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


def get_session(ctx: Ctx) -> Iterator[Session]:
    """One session per request; committed by the handler, rolled back if it raises."""
    with ctx.sessions() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


DbSession = Annotated[Session, Depends(get_session)]
Token = Annotated[str | None, Depends(oauth2_scheme)]


def _unauthorised(detail: str = NOT_AUTHENTICATED) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


def current_user(token: Token, session: DbSession) -> User:
    """The user of a valid bearer token; 401 for none, unknown, expired or revoked tokens."""
    if not token:
        raise _unauthorised()
    user = user_for_token(session, token)
    if user is None:
        raise _unauthorised("the token is invalid or has expired: log in again")
    session.commit()  # end the read transaction (SQLite: release the lock early)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def clinical_user(user: CurrentUser) -> User:
    """Admins and practitioners: the people who handle identifiable patient data."""
    if user.role == Role.RESEARCHER.value:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="researchers can only read de-identified exports"
        )
    return user


def admin_user(user: CurrentUser) -> User:
    if user.role != Role.ADMIN.value:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only an admin may do this")
    return user


ClinicalUser = Annotated[User, Depends(clinical_user)]
AdminUser = Annotated[User, Depends(admin_user)]


def clinic_scope(user: User) -> int | None:
    """The clinic a user is confined to, or None for admins (and clinic-less researchers)."""
    if user.role == Role.ADMIN.value:
        return None
    return (
        user.clinic_id
        if user.clinic_id is not None
        else (None if user.role == Role.RESEARCHER.value else -1)
    )


def not_found(what: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} not found")


def scoped_patients(stmt: Select[Patient], user: User) -> Select[Patient]:
    scope = clinic_scope(user)
    return stmt if scope is None else stmt.where(Patient.clinic_id == scope)


def get_patient(session: Session, user: User, patient_id: int) -> Patient:
    """The patient if it exists and the user may see it; otherwise 404 (never 403)."""
    patient = session.get(Patient, patient_id)
    scope = clinic_scope(user)
    if patient is None or (scope is not None and patient.clinic_id != scope):
        raise not_found("patient")
    return patient


def get_visit(session: Session, user: User, visit_id: int) -> Visit:
    visit = session.get(Visit, visit_id)
    scope = clinic_scope(user)
    if visit is None or (scope is not None and visit.patient.clinic_id != scope):
        raise not_found("visit")
    return visit


def get_measurement(session: Session, user: User, measurement_id: int) -> Measurement:
    row = session.get(Measurement, measurement_id)
    scope = clinic_scope(user)
    if row is None or (scope is not None and row.visit.patient.clinic_id != scope):
        raise not_found("measurement")
    return row
