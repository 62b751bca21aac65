"""The API's part of the app: its routers, their documented error shapes, its error handlers.

`include_api(app)` is called by the composition root (`sotmeasure.app.create_app`), which
also builds the service context and mounts the pages; nothing here knows about the pages.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from sotmeasure.api.docs import include_docs
from sotmeasure.api.errors import install_error_handlers
from sotmeasure.api.limits import BodySizeLimitMiddleware
from sotmeasure.api.routers import (
    auth,
    comparisons,
    exports,
    health,
    measurements,
    patients,
    recordings,
    rig_checks,
    setups,
    users,
    visits,
)
from sotmeasure.api.schemas import ErrorOut

API_DESCRIPTION = (
    "Prone leg length difference and pelvic tilt measurements against patients and visits. "
    "Log in at POST /auth/token and send 'Authorization: Bearer <token>'. See docs/api.md."
)


#: Documented on every operation, so that clients (and schema checks) know the error shapes.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the request body cannot be parsed"},
    401: {"model": ErrorOut, "description": "no, unknown, expired or revoked token"},
    403: {"model": ErrorOut, "description": "this role may not do this"},
    404: {"model": ErrorOut, "description": "no such row (or not in the user's clinic)"},
    409: {"model": ErrorOut, "description": "conflicts with the stored state"},
    422: {"model": ErrorOut, "description": "invalid input: field errors, or one sentence"},
    500: {"model": ErrorOut, "description": "internal or storage error (`code` says which)"},
    503: {
        "model": ErrorOut,
        "description": "database busy or unreachable, data folder not "
        "writable (`code`; Retry-After when trying again can help)",
    },
}


def include_api(app: FastAPI, *, max_upload_bytes: int) -> None:
    """Add the API routers, the upload size limit, the JSON error handlers and the offline
    documentation pages to `app` (built with docs_url=None and redoc_url=None)."""
    include_docs(app)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=max_upload_bytes)
    install_error_handlers(app)
    for module in (
        health,
        auth,
        users,
        patients,
        visits,
        recordings,
        measurements,
        comparisons,
        exports,
        rig_checks,
        setups,
    ):
        app.include_router(module.router, responses=ERROR_RESPONSES)
