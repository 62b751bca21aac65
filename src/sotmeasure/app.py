"""The composition root: `create_app(settings)` assembles the service, the API and the pages.

    services.context (settings, database, files, worker)
        ├── api.include_api   JSON routers under /, docs at /docs (bundled assets)
        └── web.mount_web     the practitioner's pages under /ui
    one lifespan: start the service, run, end the live streams, stop the service
    one error answer: an HTML page for a page request, JSON for everything else

Nothing is created at import time; every call builds a new, independent app. The api and
web packages do not import each other; both call `sotmeasure.services`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sotmeasure import __version__
from sotmeasure.api import include_api
from sotmeasure.api.admission import AdmissionMiddleware
from sotmeasure.api.body_auth import AuthBeforeBodyMiddleware
from sotmeasure.api.errors import (
    SERVER_FAILURE_CLASSES,
    error_response,
    log_server_failure,
    server_failure,
    status_for,
)
from sotmeasure.api.routes import API_DESCRIPTION
from sotmeasure.errors import SotmeasureError
from sotmeasure.services import context as service
from sotmeasure.settings import Settings
from sotmeasure.web import WebState, mount_web, page_error, page_login_refusal
from sotmeasure.web.session import COOKIE_NAME
from sotmeasure.web.session import LOGIN_PATH as PAGE_LOGIN_PATH
from sotmeasure.web.settings import WebSettings

__all__ = ["create_app"]

API_LOGIN_PATH = "/auth/token"


def create_app(settings: Settings | None = None, web: WebSettings | None = None) -> FastAPI:
    """A new, independent sotmeasure app (settings default to the environment)."""
    settings = settings or Settings()
    ctx = service.build_context(settings)
    pages: WebState | None = None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        assert pages is not None
        restore_signals = pages.watch_exit_signals()
        try:
            await run_in_threadpool(service.start, ctx)
            try:
                yield
            finally:
                await run_in_threadpool(pages.shutdown)  # release the camera
                await run_in_threadpool(service.stop, ctx)
        finally:
            restore_signals()

    app = FastAPI(
        title="sotmeasure",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # /docs and /redoc come from bundled assets (api.docs): offline
        redoc_url=None,
    )
    app.state.ctx = ctx
    include_api(app, max_upload_bytes=settings.max_upload_bytes)
    pages = mount_web(app, ctx, web)  # the practitioner pages (docs/web.md)
    app.add_middleware(  # added last = runs first: no body is read for a client without a token
        AuthBeforeBodyMiddleware,
        token_user=ctx.token_user,
        public_paths=(API_LOGIN_PATH, PAGE_LOGIN_PATH),
        cookie_name=COOKIE_NAME,
        page_prefix="/ui/",
        page_refusal=page_login_refusal,
    )
    app.add_middleware(  # outermost: requests beyond the limit wait holding nothing
        AdmissionMiddleware,
        max_in_flight=settings.max_concurrent_requests,
        exempt_suffixes=(".mjpg",),
    )

    async def _server_failure(request: Request, exc: Exception) -> Response:
        """The database busy or gone, the disk full, a bug: never a plain-text 500."""
        failure = server_failure(exc)
        log_server_failure(failure, exc)
        page = page_error(request, failure.status, failure.detail)
        return page if page is not None else failure.response()

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Pages get an HTML answer; the API (and the pages' JSON endpoints) keep JSON."""
        if isinstance(exc.__cause__, OSError):  # FastAPI's 400 for a body it could not spool
            return await _server_failure(request, exc.__cause__)
        page = page_error(request, exc.status_code, exc.detail)
        return page if page is not None else await http_exception_handler(request, exc)

    @app.exception_handler(SotmeasureError)
    async def _refused(request: Request, exc: SotmeasureError) -> Response:
        """A refused request (not found, conflict, invalid, ...): one sentence, same status
        for the API and the pages."""
        page = page_error(request, status_for(exc), str(exc))
        return page if page is not None else error_response(exc)

    for failure_class in SERVER_FAILURE_CLASSES:
        app.add_exception_handler(failure_class, _server_failure)

    return app
