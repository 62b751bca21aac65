"""Authentication before the request body is read.

Why a middleware: FastAPI parses a JSON body, and Starlette spools a multipart upload to a
temporary file, before any dependency (and so before `current_user`) runs. Without this, a
client with no token could make the server read and buffer hundreds of megabytes just to
be told 401. Here the token (bearer header or the pages' login cookie) is checked from the
headers alone; a request that declares a body and has no valid token is answered at once
(401 for the API, a redirect to the login page for the pages) with `Connection: close`,
and its body is never read. Requests without a body and the login routes pass untouched;
the routes' own dependencies still authorise every request as before.

It also checks every bearer token (with or without a body) and leaves the result in the
request's state (`VERIFIED_TOKEN`: the token and its user, or None), so that `current_user`
does not look the same token up a second time: one lookup, in one thread-pool hop, per
API request. Page requests (the login cookie) are checked here only when they carry a
body; the pages' own dependency looks the cookie up.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

NOT_AUTHENTICATED = "not authenticated: log in and send the token as 'Authorization: Bearer ...'"
INVALID_TOKEN = "the token is invalid or has expired: log in again"

#: Key in the ASGI scope's state: (bearer token, its user or None) as checked here.
VERIFIED_TOKEN = "sotmeasure_verified_token"


class AuthBeforeBodyMiddleware:
    """Refuse a request body from a client without a valid token before reading it."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token_user: Callable[[str], Any],
        public_paths: Collection[str],
        cookie_name: str,
        page_prefix: str,
        page_refusal: Callable[[Request], Response],
    ) -> None:
        self.app = app
        self.token_user = token_user  # blocking (a database read): run in a thread
        self.public_paths = frozenset(public_paths)
        self.cookie_name = cookie_name
        self.page_prefix = page_prefix
        self.page_refusal = page_refusal  # the pages' answer: a redirect to their login

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        request = Request(scope)  # headers and cookies only: the body stays unread
        bearer = _bearer_token(request)
        has_body = _declares_body(scope)
        if bearer is None and not has_body:
            await self.app(scope, receive, send)  # pages' reads: their dependency checks
            return
        token = bearer or request.cookies.get(self.cookie_name)
        user = None if token is None else await run_in_threadpool(self.token_user, token)
        if bearer is not None:
            scope.setdefault("state", {})[VERIFIED_TOKEN] = (bearer, user)
        if user is None and has_body:
            await self._refusal(request, had_token=bool(token))(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _refusal(self, request: Request, *, had_token: bool) -> Response:
        path = request.url.path
        if path.startswith(self.page_prefix):
            response = self.page_refusal(request)
        else:
            response = JSONResponse(
                {"detail": INVALID_TOKEN if had_token else NOT_AUTHENTICATED},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        response.headers["Connection"] = "close"  # the unread body cannot be skipped
        return response


def _declares_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding":
            return True
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
    return False


def _bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
