"""One service instance: settings, database, file store and worker; its start and stop.

Built once per app by the composition root (`sotmeasure.app.create_app`); nothing is
created at import time. `start` migrates the database (`upgrade head`), moves scratch
files of an interrupted run aside, marks measurements interrupted by a previous crash as
failed (retryable), then starts the worker threads; `stop` stops them (in-flight rows
become failed, retryable) and closes the engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sotmeasure import __version__
from sotmeasure.jobs.measure_adapter import (
    ServiceSetupError,
    SetupFiles,
    measure_recording,
    setup_version_files,
)
from sotmeasure.jobs.worker import MeasurementWorker, ProgressFn, fail_interrupted
from sotmeasure.measure.result import ResultRecord
from sotmeasure.services.login_throttle import LoginThrottle
from sotmeasure.settings import Settings
from sotmeasure.store.accounts import user_for_token
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.media_checks import ZipLimits
from sotmeasure.store.migrate import upgrade_head
from sotmeasure.store.models import SetupVersion
from sotmeasure.store.queueing import recording_exists
from sotmeasure.store.recording_files import RecordingFiles
from sotmeasure.store.scratch import recover_scratch

log = logging.getLogger(__name__)


@dataclass
class AppContext:
    """Settings, database and file store of one service instance (`app.state.ctx`)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    files: RecordingFiles
    worker: MeasurementWorker | None = None
    login_throttle: LoginThrottle = field(init=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.login_throttle = LoginThrottle(
            free_per_account=s.login_free_failures_per_account,
            free_per_address=s.login_free_failures_per_address,
            base_s=s.login_backoff_base_s,
            max_s=s.login_backoff_max_s,
        )

    def token_is_valid(self, token: str) -> bool:
        """Whether a bearer token (or the pages' login cookie) belongs to an active user."""
        with self.sessions() as session:
            return user_for_token(session, token) is not None

    def recording_is_stored(self, sha256: str) -> bool:
        """Whether a committed recording row points at these bytes (a fresh read)."""
        with self.sessions() as session:
            return recording_exists(session, sha256)

    def wake_worker(self) -> None:
        if self.worker is not None:
            self.worker.wake()


def build_context(settings: Settings) -> AppContext:
    """Engine, sessions and file store for `settings` (no connection is opened yet)."""
    engine = make_engine(
        settings.effective_database_url, sqlite_busy_timeout_s=settings.sqlite_busy_timeout_s
    )
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


def start(ctx: AppContext) -> None:
    """Blocking start-up work: folders, migrations, crash recovery, worker threads."""
    ctx.settings.ensure_dirs()
    recover_scratch(ctx.settings.tmp_dir, ctx.settings.interrupted_dir)
    upgrade_head(ctx.engine)
    ctx.files.sweep_unfinished(ctx.recording_is_stored)
    fail_interrupted(ctx.sessions)
    if ctx.settings.processing_workers > 0:
        settings = ctx.settings

        def processor(video: Path, version_id: int | None, progress: ProgressFn) -> ResultRecord:
            return measure_recording(settings, video, progress, stored_setup(ctx, version_id))

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


def stored_setup(ctx: AppContext, version_id: int | None) -> SetupFiles | None:
    """The files of a stored setup version (None: the installation setup)."""
    if version_id is None:
        return None
    with ctx.sessions() as session:
        version = session.get(SetupVersion, version_id)
        if version is None:  # RESTRICT keeps a used version; this is a broken database
            raise ServiceSetupError(f"setup version {version_id} is missing from the database")
        return setup_version_files(ctx.settings, version)


def stop(ctx: AppContext) -> None:
    if ctx.worker is not None:
        ctx.worker.stop()
        ctx.worker = None
    ctx.engine.dispose()
