"""sotmeasure.web: the practitioner's pages, served by the same FastAPI app as the API.

`mount_web(app, ctx)` adds the page routers under /ui, the static files, the login
redirect and the live camera hub; it returns the `WebState` whose `watch_exit_signals` and
`shutdown` the composition root (`sotmeasure.app`) calls in the app's lifespan.
`page_error(request, status_code, detail)` is the HTML answer for a failed page request.
The pages call `sotmeasure.services`, never the API's routers. See docs/web.md.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from sotmeasure.services.context import AppContext
from sotmeasure.web import (
    account_pages,
    corrections,
    export_pages,
    landmark_pages,
    live_routes,
    pages,
    report_page,
    rig_pages,
    setups,
)
from sotmeasure.web.capture import CaptureRegistry
from sotmeasure.web.live import LiveHub
from sotmeasure.web.session import (
    ForeignOrigin,
    LoginRequired,
    NoStoreMiddleware,
    login_redirect,
    wants_json,
)
from sotmeasure.web.settings import WebSettings
from sotmeasure.web.state import STATIC_DIR, TEMPLATES_DIR, WebState, get_web

if TYPE_CHECKING:
    from sotmeasure.web.live_analysis import LiveAnalyser

__all__ = ["FOREIGN_ORIGIN", "WebState", "mount_web", "page_error", "page_login_refusal"]

#: Paths under /ui/ that answer data, not a page: their errors stay JSON.
_DATA_SUFFIXES = (".json", ".png", ".svg", ".mjpg")

LOGIN_NEEDED = "not logged in (or the login expired): log in again"
FOREIGN_ORIGIN = (
    "this form was not sent from a page of this site (Origin missing, null or another host): "
    "refused"
)


def mount_web(app: FastAPI, ctx: AppContext, web: WebSettings | None = None) -> WebState:
    """Add the pages, static files and live camera to `app`; returns the pages' state."""
    web = web or WebSettings()
    settings = ctx.settings

    def analyser() -> LiveAnalyser:
        # Imported on first use: the pose model loads when a live camera first runs.
        from sotmeasure.web.live_analysis import LiveAnalyser, LiveSetup

        return LiveAnalyser(LiveSetup.from_settings(settings))

    hub = LiveHub(analyser, pose_hz=web.live_pose_hz, idle_stop_s=web.live_idle_stop_s)
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    state = WebState(ctx, web, templates, hub, CaptureRegistry())
    app.state.web = state
    app.include_router(pages.router)
    app.include_router(account_pages.router)
    app.include_router(export_pages.router)
    app.include_router(corrections.router)
    app.include_router(report_page.router)
    ctx.visit_report_pdf = partial(report_page.render_visit_pdf, state)
    app.include_router(live_routes.router)
    app.include_router(rig_pages.router)
    app.include_router(landmark_pages.router)
    app.include_router(setups.router)
    app.mount("/ui/static", StaticFiles(directory=str(STATIC_DIR)), name="web-static")
    app.add_middleware(NoStoreMiddleware)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse("/ui/patients", status_code=307)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        if wants_json(request):  # a page script cannot follow a redirect to a login form
            return page_login_refusal(request)
        return login_redirect(exc.next_path)

    @app.exception_handler(ForeignOrigin)
    async def _foreign(_request: Request, _exc: ForeignOrigin) -> Response:
        """The documented error shape (docs/api.md), not a page: the sender is not one of
        this site's pages, so there is no page of ours to show it in."""
        return JSONResponse({"detail": FOREIGN_ORIGIN}, status_code=403)

    return state


def page_login_refusal(request: Request) -> Response:
    """A page request without a valid login: the login page, or 401 JSON for a script."""
    if wants_json(request):
        return JSONResponse({"detail": LOGIN_NEEDED}, status_code=401)
    return login_redirect(request.url.path)


def page_error(request: Request, status_code: int, detail: object) -> Response | None:
    """The HTML error page for a page request; None (answer JSON) for the API, the pages'
    data paths and their scripts' JSON calls."""
    path = request.url.path
    if not path.startswith("/ui/") or path.endswith(_DATA_SUFFIXES) or wants_json(request):
        return None
    return get_web(request).templates.TemplateResponse(
        request,
        "error.html",
        {
            "user": None,
            "status_code": status_code,
            "heading": "Not found" if status_code == 404 else "Not possible",
            "detail": detail,
        },
        status_code=status_code,
    )
