"""Who is looking at a page: the API's own bearer token, carried in an HttpOnly cookie.

Why the same token: one login rule, one expiry and one revocation for the API and the
pages (`store.accounts`). The cookie is HttpOnly (no script can read it) and SameSite=Lax
(a form on another site cannot post with it); state-changing page requests additionally
check (`same_origin`, a dependency of the pages' router) that Origin (or Referer) names
this server; `Origin: null` and a request with neither header are refused.
"""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sotmeasure.services.context import AppContext
from sotmeasure.store.accounts import user_for_token
from sotmeasure.store.models import Role, User

COOKIE_NAME = "sotmeasure_token"
LOGIN_PATH = "/ui/login"


class LoginRequired(Exception):  # noqa: N818 - control flow for the redirect handler
    """The request has no valid login cookie; answered with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class ForeignOrigin(Exception):  # noqa: N818 - control flow, answered with 403
    """A state-changing request whose Origin/Referer is another site."""


def wants_json(request: Request) -> bool:
    """A page script's call (fetch with `Accept: application/json`, as visit.js and
    landmarks.js send), not a browser navigation: its errors must be JSON it can read."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def login_redirect(next_path: str) -> RedirectResponse:
    return RedirectResponse(f"{LOGIN_PATH}?next={quote(next_path, safe='/')}", status_code=303)


def safe_next(next_path: str | None) -> str:
    """Only same-site relative paths may follow a login (no open redirect)."""
    if not next_path or not next_path.startswith("/") or next_path.startswith("//"):
        return "/ui/patients"
    return next_path


def cookie_user(ctx: AppContext, request: Request) -> User | None:
    """The active user of the cookie's token, or None (unknown, expired, revoked, absent)."""
    token = request.cookies.get(COOKIE_NAME)
    if not token:
        return None
    with ctx.sessions() as session:
        user = user_for_token(session, token)
        if user is None:
            return None
        _ = user.clinic  # loaded before the session closes: every page header names it
        session.expunge(user)
        return user


def require_page_user(ctx: AppContext, request: Request) -> User:
    """The logged-in clinical user; raises LoginRequired for a redirect to the login page."""
    user = cookie_user(ctx, request)
    if user is None or user.role == Role.RESEARCHER.value:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return user


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def same_origin(request: Request) -> None:
    """Router dependency: a state-changing request (POST, ...) must name this server in its
    Origin header (or, when a browser sends no Origin, in its Referer); reads pass.

    Refused: another host, `Origin: null` (sandboxed frames, data: URLs, some redirects)
    and a request with neither header: every current browser sends Origin on a form POST,
    so a missing one is not a browser form of this site.
    """
    if request.method in _SAFE_METHODS:
        return
    header = request.headers.get("origin") or request.headers.get("referer")
    if not header or header == "null":
        raise ForeignOrigin()
    if urlsplit(header).netloc != request.headers.get("host", ""):
        raise ForeignOrigin()


class NoStoreMiddleware:
    """Every page answer under /ui/ (reports, patient lists, their images and data, error
    pages) carries `Cache-Control: no-store` unless it set its own: patient data must not
    stay in a shared computer's browser cache or a proxy. Static files keep caching."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not path.startswith("/ui/") or path.startswith("/ui/static/"):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)


def set_login_cookie(response: Response, token: str, max_age_s: int, secure: bool) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=max_age_s,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )


def clear_login_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax")
