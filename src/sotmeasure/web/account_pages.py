"""Account pages: a user's own account (change password) and the admin page (users and
clinics). The rules are `services.accounts`, the same the API and the CLI apply; these
routes only read forms and render answers. Every POST passes the pages' `same_origin`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from sotmeasure.services import accounts
from sotmeasure.services.context import AppContext
from sotmeasure.services.errors import InvalidInputError, ServiceError
from sotmeasure.store.accounts import MIN_PASSWORD_LENGTH, issue_token
from sotmeasure.store.models import Role, User
from sotmeasure.web.pages import PageUser
from sotmeasure.web.session import same_origin, set_login_cookie
from sotmeasure.web.state import Ctx, Web, WebState

router = APIRouter(prefix="/ui", include_in_schema=False, dependencies=[Depends(same_origin)])

Password = Annotated[str, Form(max_length=1024)]


def _admin(user: PageUser) -> User:
    if user.role != Role.ADMIN.value:
        raise HTTPException(403, detail="only an admin may manage users and clinics")
    return user


AdminPageUser = Annotated[User, Depends(_admin)]


def _page(
    web: WebState, request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return web.templates.TemplateResponse(request, name, context, status_code=status_code)


# --- own account ----------------------------------------------------------------------


def _account_page(
    request: Request,
    web: WebState,
    user: User,
    *,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        web,
        request,
        "account.html",
        status_code=status_code,
        user=user,
        error=error,
        notice=notice,
        min_length=MIN_PASSWORD_LENGTH,
    )


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, web: Web, user: PageUser) -> HTMLResponse:
    return _account_page(request, web, user)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    ctx: Ctx,
    web: Web,
    user: PageUser,
    current_password: Password,
    new_password: Password,
    repeat_password: Password,
) -> Response:
    """Change one's own password. Every session of the user ends (tokens revoked); this
    browser gets a fresh one so the person who just changed it stays logged in."""
    throttle = ctx.login_throttle
    address = request.client.host if request.client else None
    wait_s = throttle.retry_after_s(user.email, address)
    if wait_s is not None:
        return _account_page(
            request,
            web,
            user,
            error=f"Too many wrong passwords: try again in {wait_s} s.",
            status_code=429,
        )
    if new_password != repeat_password:
        return _account_page(
            request, web, user, error="The two new passwords differ.", status_code=422
        )
    lifetime = timedelta(minutes=ctx.settings.token_lifetime_minutes)
    try:
        with ctx.sessions() as session:
            changed = accounts.change_own_password(session, user.id, current_password, new_password)
            token, _expires = issue_token(session, changed, lifetime)
            session.commit()
    except ServiceError as exc:
        if str(exc) == accounts.WRONG_CURRENT_PASSWORD:
            throttle.failed(user.email, address)
        return _account_page(request, web, user, error=str(exc), status_code=exc.status_code)
    throttle.succeeded(user.email)
    response = _account_page(
        request,
        web,
        user,
        notice="Password changed. Every other session of this account was logged out.",
    )
    set_login_cookie(response, token, int(lifetime.total_seconds()), web.web.cookie_secure)
    return response


# --- admin: users and clinics ---------------------------------------------------------

#: What the admin page says after a change (a fixed key in the redirect, never free text).
NOTICES = {
    "user-added": "User added.",
    "user-activated": "User activated: they can log in again.",
    "user-deactivated": "User deactivated: their sessions ended; their records stay.",
    "password-reset": "Password set: the user's sessions ended; give them the new password.",
    "clinic-added": "Clinic added.",
    "clinic-renamed": "Clinic renamed.",
    "clinic-merged": "Clinic merged: its users moved, the empty clinic is gone.",
    "clinic-deleted": "Clinic deleted.",
}


def _admin_page(
    request: Request,
    ctx: Ctx,
    web: WebState,
    user: User,
    *,
    error: str | None = None,
    status_code: int = 200,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    with ctx.sessions() as session:
        return _page(
            web,
            request,
            "admin.html",
            status_code=status_code,
            user=user,
            users=accounts.list_users(session),
            clinics=accounts.list_clinics(session),
            roles=[r.value for r in Role],
            error=error,
            notice=NOTICES.get(request.query_params.get("done", "")),
            form=form or {},
            min_length=MIN_PASSWORD_LENGTH,
        )


@dataclass(frozen=True, slots=True)
class AdminForm:
    """One admin form post: apply the change in a session, then go back to the admin page
    with its notice, or show the page again with the service's reason and status."""

    request: Request
    ctx: AppContext
    web: WebState
    admin: User

    def apply(
        self,
        change: Callable[[Session], object],
        done: str,
        anchor: str,
        form: dict[str, str] | None = None,
    ) -> Response:
        try:
            with self.ctx.sessions() as session:
                change(session)
        except ServiceError as exc:
            return _admin_page(
                self.request,
                self.ctx,
                self.web,
                self.admin,
                error=str(exc),
                status_code=exc.status_code,
                form=form,
            )
        return RedirectResponse(f"/ui/admin?done={done}#{anchor}", status_code=303)


def _admin_form(request: Request, ctx: Ctx, web: Web, admin: AdminPageUser) -> AdminForm:
    return AdminForm(request, ctx, web, admin)


AdminCall = Annotated[AdminForm, Depends(_admin_form)]


def _clinic_id(value: str | None) -> int | None:
    return int(value) if value and value.strip().isdigit() else None


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInputError(f"unknown role {value!r}") from None


@router.get("/admin", response_class=HTMLResponse)
def admin_page(request: Request, ctx: Ctx, web: Web, admin: AdminPageUser) -> HTMLResponse:
    return _admin_page(request, ctx, web, admin)


@router.post("/admin/users", response_class=HTMLResponse)
def add_user(
    call: AdminCall,
    email: Annotated[str, Form(max_length=320)],
    role: Annotated[str, Form(max_length=20)],
    password: Password,
    full_name: Annotated[str | None, Form(max_length=200)] = None,
    clinic_id: Annotated[str | None, Form()] = None,
) -> Response:
    form = {
        "email": email,
        "full_name": full_name or "",
        "role": role,
        "clinic_id": clinic_id or "",
    }
    return call.apply(
        lambda session: accounts.add_user(
            session,
            email=email,
            password=password,
            role=_role(role),
            clinic_id=_clinic_id(clinic_id),
            full_name=(full_name or "").strip() or None,
        ),
        "user-added",
        "users",
        form,
    )


@router.post("/admin/users/{user_id}/active", response_class=HTMLResponse)
def set_active(user_id: int, call: AdminCall, active: Annotated[bool, Form()]) -> Response:
    return call.apply(
        lambda session: accounts.set_active(session, call.admin.id, user_id, active),
        "user-activated" if active else "user-deactivated",
        "users",
    )


def _reset_password(session: Session, admin: User, user_id: int, password: str) -> None:
    if user_id == admin.id:
        raise InvalidInputError(
            "change your own password on the Account page (it asks for the current one)"
        )
    accounts.reset_password(session, admin.id, user_id, password)


@router.post("/admin/users/{user_id}/password", response_class=HTMLResponse)
def reset_password(user_id: int, call: AdminCall, password: Password) -> Response:
    return call.apply(
        lambda session: _reset_password(session, call.admin, user_id, password),
        "password-reset",
        "users",
    )


ClinicName = Annotated[str, Form(max_length=200)]


@router.post("/admin/clinics", response_class=HTMLResponse)
def add_clinic(call: AdminCall, name: ClinicName) -> Response:
    return call.apply(
        lambda session: accounts.create_clinic(session, name),
        "clinic-added",
        "clinics",
        {"clinic_name": name},
    )


@router.post("/admin/clinics/{clinic_id}/rename", response_class=HTMLResponse)
def rename_clinic(clinic_id: int, call: AdminCall, name: ClinicName) -> Response:
    return call.apply(
        lambda session: accounts.rename_clinic(session, clinic_id, name),
        "clinic-renamed",
        "clinics",
    )


@router.post("/admin/clinics/{clinic_id}/merge", response_class=HTMLResponse)
def merge_clinic(clinic_id: int, call: AdminCall, into: Annotated[int, Form()]) -> Response:
    return call.apply(
        lambda session: accounts.merge_clinic(session, clinic_id, into),
        "clinic-merged",
        "clinics",
    )


@router.post("/admin/clinics/{clinic_id}/delete", response_class=HTMLResponse)
def delete_clinic(clinic_id: int, call: AdminCall) -> Response:
    return call.apply(
        lambda session: accounts.delete_clinic(session, clinic_id), "clinic-deleted", "clinics"
    )
