"""One service instance: settings, database, file store and worker; its start and stop.

Built once per app by the composition root (`sotmeasure.app.create_app`); nothing is
created at import time. `start` migrates the database (`upgrade head`), moves scratch
files of an interrupted run aside, then starts the background work:

- SQLite (one process): marks measurements interrupted by a previous crash as failed
  (retryable), then starts the worker threads; `stop` stops them (in-flight rows become
  failed, retryable).
- PostgreSQL: the job queue (`jobs.queue_worker`); running rows may belong to a live
  `sotmeasure worker` elsewhere, so start-up touches none of them. With
  `processing_workers` > 0 the server runs queue workers in a thread too; on `stop`
  their in-flight measurements go back to the queue.

`stop` then closes the engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
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
from sotmeasure.jobs.queue_worker import QueueWorkers
from sotmeasure.jobs.runner import MeasurementRunner, Processor, ProgressFn
from sotmeasure.jobs.worker import MeasurementWorker, fail_interrupted
from sotmeasure.measure.result import ResultRecord
from sotmeasure.services.calibration_jobs import CalibrationJobs
from sotmeasure.services.login_throttle import LoginThrottle
from sotmeasure.settings import Settings
from sotmeasure.store.accounts import user_for_token
from sotmeasure.store.engine import make_engine, make_session_factory
from sotmeasure.store.job_queue import live_queue_workers, uses_job_queue
from sotmeasure.store.media_checks import LengthLimits, ZipLimits
from sotmeasure.store.migrate import upgrade_head
from sotmeasure.store.models import SetupVersion, User
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
    worker: MeasurementWorker | QueueWorkers | None = None
    login_throttle: LoginThrottle = field(init=False)
    #: Camera calibrations running in this process, per setup (pages and API poll them).
    calibrations: CalibrationJobs = field(init=False)
    #: The visit report as PDF bytes, for (user, visit id). Set by the pages
    #: (`web.mount_web`), which own the report's template; None when this app has none,
    #: and the API then answers 503.
    visit_report_pdf: Callable[[User, int], bytes] | None = None

    def __post_init__(self) -> None:
        s = self.settings
        self.login_throttle = LoginThrottle(
            free_per_account=s.login_free_failures_per_account,
            free_per_address=s.login_free_failures_per_address,
            base_s=s.login_backoff_base_s,
            max_s=s.login_backoff_max_s,
        )
        self.calibrations = CalibrationJobs(self.sessions, s)

    def token_user(self, token: str) -> User | None:
        """The active user of a bearer token (or the pages' login cookie), else None: a
        fresh read each time, so a revocation by any process counts at once. The user is
        detached, with its columns loaded (`Session.merge(user, load=False)` puts it into
        a request's session without a query)."""
        with self.sessions() as session:
            return user_for_token(session, token)

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
        length_limits=LengthLimits(settings.max_recording_frames, settings.max_recording_s),
    )
    return AppContext(settings, engine, make_session_factory(engine), files)


def _processor(ctx: AppContext) -> Processor:
    """Measure a video with the measurement's setup version (None: the installation's) in
    the measurement's mode (None: the installation's default)."""

    def processor(
        video: Path, version_id: int | None, mode: str | None, progress: ProgressFn
    ) -> ResultRecord:
        return measure_recording(
            ctx.settings, video, progress, stored_setup(ctx, version_id), mode=mode
        )

    return processor


def uses_queue(ctx: AppContext) -> bool:
    """True when this instance's measurements go through the job queue (PostgreSQL)."""
    return uses_job_queue(ctx.engine.dialect.name)


def measurements_processed(ctx: AppContext) -> bool:
    """True when something measures this instance's uploads: its own worker, or (with the
    job queue) a live `sotmeasure worker` anywhere."""
    if ctx.worker is not None:
        return True
    if not uses_queue(ctx):
        return False
    with ctx.sessions() as session:
        return live_queue_workers(session, ctx.settings.queue_stalled_after_s) > 0


def queue_workers(ctx: AppContext, *, concurrency: int, handle_signals: bool) -> QueueWorkers:
    """Queue workers measuring with this instance's settings (`sotmeasure worker`, and the
    server's own on PostgreSQL)."""
    runner = MeasurementRunner(ctx.sessions, ctx.files, _processor(ctx))
    return QueueWorkers(
        ctx.settings,
        ctx.engine,
        ctx.sessions,
        runner,
        concurrency=concurrency,
        handle_signals=handle_signals,
    )


def start(ctx: AppContext) -> None:
    """Blocking start-up work: folders, migrations, crash recovery, background work."""
    ctx.settings.ensure_dirs()
    recover_scratch(ctx.settings.tmp_dir, ctx.settings.interrupted_dir)
    upgrade_head(ctx.engine)
    ctx.files.sweep_unfinished(ctx.recording_is_stored)
    settings = ctx.settings
    if uses_queue(ctx):
        if settings.processing_workers > 0:
            workers = queue_workers(
                ctx, concurrency=settings.processing_workers, handle_signals=False
            )
            workers.start_in_thread()
            ctx.worker = workers
    else:
        fail_interrupted(ctx.sessions)
        if settings.processing_workers > 0:
            ctx.worker = MeasurementWorker(
                ctx.sessions,
                ctx.files,
                _processor(ctx),
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
    if isinstance(ctx.worker, QueueWorkers):
        ctx.worker.stop_thread(timeout_s=ctx.settings.queue_shutdown_grace_s + 30)
    elif ctx.worker is not None:
        ctx.worker.stop()
    ctx.worker = None
    ctx.engine.dispose()
