"""FastAPI dependencies: the app context, a database session per request, the current user.

Roles (docs/api.md): admins do everything; practitioners see only their own clinic (the
scoping rule is `services.access`); researchers only read de-identified exports (403
elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from sotmeasure.services.context import AppContext
from sotmeasure.store.accounts import user_for_token
from sotmeasure.store.models import Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)

NOT_AUTHENTICATED = "not authenticated: log in and send the token as 'Authorization: Bearer ...'"


async def get_ctx(request: Request) -> AppContext:
    """Async on purpose, as are the role checks below: FastAPI runs a sync dependency in the
    thread pool, and a hop there costs a thread switch per request (and a wait in the
    pool's queue under load) for what is one attribute read."""
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
    session.commit()  # end the read transaction (a no-op on SQLite, where reads autocommit)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def clinical_user(user: CurrentUser) -> User:
    """Admins and practitioners: the people who handle identifiable patient data."""
    if user.role == Role.RESEARCHER.value:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, detail="researchers can only read de-identified exports"
        )
    return user


async def admin_user(user: CurrentUser) -> User:
    if user.role != Role.ADMIN.value:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only an admin may do this")
    return user


ClinicalUser = Annotated[User, Depends(clinical_user)]
AdminUser = Annotated[User, Depends(admin_user)]
