"""FastAPI dependencies: the app context, a database session per request, the current user.

Roles (docs/api.md): admins do everything; practitioners see only their own clinic (the
scoping rule is `services.access`); researchers only read de-identified exports (403
elsewhere).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.concurrency import contextmanager_in_threadpool
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from sotmeasure.api.body_auth import INVALID_TOKEN, NOT_AUTHENTICATED, VERIFIED_TOKEN
from sotmeasure.services.context import AppContext
from sotmeasure.store.accounts import user_for_token
from sotmeasure.store.models import Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def get_ctx(request: Request) -> AppContext:
    """Async on purpose, as are the role checks below: FastAPI runs a sync dependency in the
    thread pool, and a hop there costs a thread switch per request (and a wait in the
    pool's queue under load) for what is one attribute read."""
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(get_ctx)]


@contextmanager
def _session_scope(ctx: AppContext) -> Iterator[Session]:
    with ctx.sessions() as session:
        try:
            yield session
        except BaseException:
            session.rollback()
            raise


async def get_session(ctx: Ctx) -> AsyncIterator[Session]:
    """One session per request; committed by the handler, rolled back if it raises.

    Async, to save two thread-pool hops per request on SQLite: making a session does no
    I/O, and neither does closing one after reads or a commit (reads autocommit; the
    connection just goes back to the pool); after a failure the close rolls back a local
    write at once, which also frees the write lock without waiting for a thread. On
    PostgreSQL a close may send a ROLLBACK over the network: there the session is entered
    and closed in threads, as FastAPI does for a sync dependency.
    """
    if ctx.engine.dialect.name != "sqlite":
        async with contextmanager_in_threadpool(_session_scope(ctx)) as session:
            yield session
        return
    session = ctx.sessions()
    try:
        yield session
    finally:
        session.close()


DbSession = Annotated[Session, Depends(get_session)]
Token = Annotated[str | None, Depends(oauth2_scheme)]


def _unauthorised(detail: str = NOT_AUTHENTICATED) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_user(request: Request, token: Token, session: DbSession) -> User:
    """The user of a valid bearer token; 401 for none, unknown, expired or revoked tokens.

    The authentication middleware (`api.body_auth`) has already looked the token up, in a
    thread, for this very request: its user is put into the request's session without a
    query (`merge(load=False)`), and this dependency runs in the event loop. Without that
    result (an app assembled without the middleware) the token is looked up here.
    """
    if not token:
        raise _unauthorised()
    verified = getattr(request.state, VERIFIED_TOKEN, None)
    if verified is not None and verified[0] == token:
        user: User | None = verified[1]
        if user is not None:
            user = session.merge(user, load=False)
    else:
        user = await run_in_threadpool(_lookup, session, token)
    if user is None:
        raise _unauthorised(INVALID_TOKEN)
    return user


def _lookup(session: Session, token: str) -> User | None:
    user = user_for_token(session, token)
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
