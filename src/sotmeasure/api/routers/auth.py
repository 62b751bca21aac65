"""Log in (OAuth2 password form or JSON) for a bearer token; log out; who am I."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from sotmeasure.api.deps import Ctx, CurrentUser, DbSession, Token
from sotmeasure.api.schemas import ErrorOut, LoginJSON, TokenOut, UserOut
from sotmeasure.store.accounts import authenticate, issue_token, revoke_token

router = APIRouter(prefix="/auth", tags=["auth"])

_BAD_LOGIN = "wrong e-mail or password"


async def _credentials(request: Request) -> LoginJSON:
    """Accept `application/json` {email, password} or the OAuth2 form (username, password)."""
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/json"):
            return LoginJSON.model_validate_json(await request.body())
        form = await request.form()
        return LoginJSON(
            email=str(form.get("username") or form.get("email") or ""),
            password=str(form.get("password") or ""),
        )
    except (ValidationError, ValueError) as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail="send e-mail and password as JSON or as an OAuth2 password form",
        ) from exc


@router.post(
    "/token",
    response_model=TokenOut,
    responses={
        429: {
            "model": ErrorOut,
            "description": "too many failed logins for this account or address: wait "
            "Retry-After seconds",
        }
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "username": {"type": "string"},
                            "password": {"type": "string"},
                        },
                        "required": ["username", "password"],
                    }
                },
                "application/json": {"schema": LoginJSON.model_json_schema()},
            },
            "required": True,
        }
    },
)
async def login(request: Request, ctx: Ctx) -> TokenOut:
    """Exchange e-mail and password for a bearer token (401 on any mismatch)."""
    creds = await _credentials(request)
    throttle = ctx.login_throttle
    address = request.client.host if request.client else None
    wait_s = throttle.begin(creds.email, address)
    if wait_s is not None:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            detail=f"too many failed logins: try again in {wait_s} s",
            headers={"Retry-After": str(wait_s)},
        )
    lifetime = timedelta(minutes=ctx.settings.token_lifetime_minutes)

    def _issue() -> TokenOut | None:
        with ctx.sessions() as session:
            user = authenticate(session, creds.email, creds.password)
            if user is None:
                return None
            token, expires_at = issue_token(session, user, lifetime)
            session.commit()
            return TokenOut(access_token=token, expires_at=expires_at)

    try:
        issued = await run_in_threadpool(_issue)  # argon2 is CPU-bound: keep it off the loop
    finally:
        throttle.end(creds.email, address)
    if issued is None:
        throttle.failed(creds.email, address)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, detail=_BAD_LOGIN, headers={"WWW-Authenticate": "Bearer"}
        )
    throttle.succeeded(creds.email)
    return issued


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(user: CurrentUser, token: Token, session: DbSession) -> None:
    """Revoke the token used for this request."""
    if token:
        revoke_token(session, token)
        session.commit()


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    """The logged-in user."""
    return UserOut.model_validate(user)
