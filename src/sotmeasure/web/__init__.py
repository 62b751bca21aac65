"""sotmeasure.web: the practitioner's pages, served by the API's own FastAPI app.

`mount_web(app, settings)` adds the page routers under /ui, the static files and the
login redirect; the API routes are untouched. See docs/web.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from sotmeasure.web.settings import WebSettings

if TYPE_CHECKING:
    from sotmeasure.settings import Settings
    from sotmeasure.web.live_analysis import LiveAnalyser

__all__ = ["mount_web"]


def mount_web(app: FastAPI, settings: Settings, web: WebSettings | None = None) -> None:
    """Add the pages, static files and live camera to `app` (built by `create_app`)."""
    # Imported here, not at module level: sotmeasure.api.app imports this package, and
    # these modules import the API's dependencies (no import cycle either way round).
    from sotmeasure.web import live_routes, pages
    from sotmeasure.web.capture import CaptureRegistry
    from sotmeasure.web.live import LiveHub
    from sotmeasure.web.session import ForeignOrigin, LoginRequired, login_redirect
    from sotmeasure.web.shutdown import watch_exit_signals
    from sotmeasure.web.state import STATIC_DIR, TEMPLATES_DIR, WebState

    web = web or WebSettings()

    def analyser() -> LiveAnalyser:
        # Imported on first use: the pose model loads when a live camera first runs.
        from sotmeasure.web.live_analysis import LiveAnalyser, LiveSetup

        return LiveAnalyser(LiveSetup.from_settings(settings))

    hub = LiveHub(analyser, pose_hz=web.live_pose_hz, idle_stop_s=web.live_idle_stop_s)
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    state = WebState(settings, web, templates, hub, CaptureRegistry())
    app.state.web = state
    app.include_router(pages.router)
    app.include_router(live_routes.router)
    app.mount("/ui/static", StaticFiles(directory=str(STATIC_DIR)), name="web-static")

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/ui/patients", status_code=307)

    @app.exception_handler(LoginRequired)
    async def _login_required(_request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_path)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        """Pages get an HTML answer; the API (and the pages' JSON endpoints) keep JSON."""
        path = request.url.path
        if path.startswith("/ui/") and not path.endswith((".json", ".png", ".svg", ".mjpg")):
            return app.state.web.templates.TemplateResponse(
                request,
                "error.html",
                {
                    "user": None,
                    "status_code": exc.status_code,
                    "heading": "Not found" if exc.status_code == 404 else "Not possible",
                    "detail": exc.detail,
                },
                status_code=exc.status_code,
            )
        return await http_exception_handler(request, exc)

    @app.exception_handler(ForeignOrigin)
    async def _foreign(_request: Request, _exc: ForeignOrigin) -> Response:
        return PlainTextResponse("this form was sent from another site: refused", 403)

    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[Any]:
        restore_signals = watch_exit_signals(state.closing)
        try:
            async with service_lifespan(a) as service_state:
                try:
                    yield service_state
                finally:
                    state.closing.set()
                    await run_in_threadpool(hub.stop_all)  # release the camera
        finally:
            restore_signals()

    app.router.lifespan_context = lifespan
