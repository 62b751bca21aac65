"""The app factory: `create_app(settings)` builds engine, file store, worker and routers.

Nothing is created at import time. The lifespan migrates the database (`upgrade head`),
marks measurements interrupted by a previous crash as failed (retryable), then starts the
worker threads; on shutdown it stops them (in-flight rows become failed, retryable).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from sotmeasure import __version__
from sotmeasure.api.context import AppContext
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
    users,
    visits,
)
from sotmeasure.jobs.measure_adapter import measure_recording
from sotmeasure.jobs.worker import MeasurementWorker, ProgressFn, fail_interrupted
from sotmeasure.settings import Settings
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.media_checks import ZipLimits
from sotmeasure.store.migrate import upgrade_head
from sotmeasure.store.recording_files import RecordingFiles
from sotmeasure.store.scratch import recover_scratch
from sotmeasure.web import mount_web

log = logging.getLogger(__name__)

API_DESCRIPTION = (
    "Prone leg length difference and pelvic tilt measurements against patients and visits. "
    "Log in at POST /auth/token and send 'Authorization: Bearer <token>'. See docs/api.md."
)


class ErrorOut(BaseModel):
    """Every error answer: one sentence, or (invalid input) where and why each field failed."""

    detail: str | list[dict[str, Any]]


#: Documented on every operation, so that clients (and schema checks) know the error shapes.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the request body cannot be parsed"},
    401: {"model": ErrorOut, "description": "no, unknown, expired or revoked token"},
    403: {"model": ErrorOut, "description": "this role may not do this"},
    404: {"model": ErrorOut, "description": "no such row (or not in the user's clinic)"},
    409: {"model": ErrorOut, "description": "conflicts with the stored state"},
    422: {"model": ErrorOut, "description": "invalid input: field errors, or one sentence"},
}


def build_context(settings: Settings) -> AppContext:
    """Engine, sessions and file store for `settings` (no connection is opened yet)."""
    engine = make_engine(settings.effective_database_url)
    files = RecordingFiles(
        settings.recordings_dir,
        settings.tmp_dir,
        max_upload_bytes=settings.max_upload_bytes,
        zip_limits=ZipLimits(
            max_members=settings.max_zip_members,
            max_total_bytes=settings.max_unzipped_bytes,
            max_ratio=settings.max_zip_ratio,
        ),
        max_video_side_px=settings.max_video_side_px,
    )
    return AppContext(settings, engine, make_session_factory(engine), files)


def _start(ctx: AppContext) -> None:
    """Blocking start-up work: folders, migrations, crash recovery, worker threads."""
    ctx.settings.ensure_dirs()
    recover_scratch(ctx.settings.tmp_dir, ctx.settings.interrupted_dir)
    upgrade_head(ctx.engine)
    fail_interrupted(ctx.sessions)
    if ctx.settings.processing_workers > 0:
        settings = ctx.settings

        def processor(video: Path, progress: ProgressFn) -> dict[str, Any]:
            return measure_recording(settings, video, progress)

        ctx.worker = MeasurementWorker(
            ctx.sessions,
            ctx.files,
            processor,
            threads=settings.processing_workers,
            poll_interval_s=settings.poll_interval_s,
        )
        ctx.worker.start()
    log.info(
        "sotmeasure %s serving; database %s; data in %s",
        __version__,
        ctx.engine.url.render_as_string(hide_password=True),
        ctx.settings.data_dir,
    )


def _stop(ctx: AppContext) -> None:
    if ctx.worker is not None:
        ctx.worker.stop()
        ctx.worker = None
    ctx.engine.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new, independent sotmeasure API app (settings default to the environment)."""
    settings = settings or Settings()
    ctx = build_context(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(_start, ctx)
        try:
            yield
        finally:
            await run_in_threadpool(_stop, ctx)

    app = FastAPI(
        title="sotmeasure",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes)
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
    ):
        app.include_router(module.router, responses=ERROR_RESPONSES)
    mount_web(app, settings)  # the practitioner pages (docs/web.md)
    return app
