"""What the web pages share inside one app: the service, templates, the live camera, captures."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates

from sotmeasure.services.calibration_jobs import CalibrationJobs
from sotmeasure.services.context import AppContext
from sotmeasure.settings import Settings
from sotmeasure.web.capture import CaptureRegistry
from sotmeasure.web.live import LiveHub
from sotmeasure.web.settings import WebSettings
from sotmeasure.web.shutdown import watch_exit_signals

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


@dataclass
class WebState:
    """Stored on `app.state.web` by `mount_web` (one per app, nothing at module level)."""

    ctx: AppContext
    web: WebSettings
    templates: Jinja2Templates
    hub: LiveHub
    captures: CaptureRegistry
    closing: threading.Event = field(default_factory=threading.Event)  # server stopping

    @property
    def calibrations(self) -> CalibrationJobs:
        """The service's calibration jobs (the API sees the same ones)."""
        return self.ctx.calibrations

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def watch_exit_signals(self) -> Callable[[], None]:
        """Let live streams end on Ctrl+C / SIGTERM (see `shutdown`); returns the undo."""
        return watch_exit_signals(self.closing)

    def shutdown(self) -> None:
        """End the live streams and release the camera (blocking; the app is stopping)."""
        self.closing.set()
        self.hub.stop_all()


def get_web(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state


def get_ctx(request: Request) -> AppContext:
    return get_web(request).ctx


Web = Annotated[WebState, Depends(get_web)]
Ctx = Annotated[AppContext, Depends(get_ctx)]
