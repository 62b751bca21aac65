"""What the web pages share inside one app: settings, templates, the live camera, captures."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from fastapi.templating import Jinja2Templates

from sotmeasure.settings import Settings
from sotmeasure.web.capture import CaptureRegistry
from sotmeasure.web.live import LiveHub
from sotmeasure.web.settings import WebSettings

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


@dataclass
class WebState:
    """Stored on `app.state.web` by `mount_web` (one per app, nothing at module level)."""

    settings: Settings
    web: WebSettings
    templates: Jinja2Templates
    hub: LiveHub
    captures: CaptureRegistry
    closing: threading.Event = field(default_factory=threading.Event)  # server stopping


def get_web(request: Request) -> WebState:
    state: WebState = request.app.state.web
    return state
