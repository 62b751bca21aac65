"""Calibrating a setup's camera in the background, with a state the page and the API poll.

Why a job: a calibration takes tens of seconds (corner detection on every frame, then the
solver); inside the HTTP request it held a server thread and the client's connection that
long, and a proxy or a browser could give up before the answer. Two kinds, one state each:

- from the camera (`start_camera`): `recording` (the guide's numbers grow: frames, views
  with the board, coverage, image corners reached, what to do next), then `calibrating`;
- from an uploaded clip (`start_upload`): the clip is checked to be a readable video in the
  request (a bad file is a 422 at once, with the reason), then `calibrating`;

then `done` (the new version and its quality report) or `failed` (the reason; nothing is
stored). One job per setup at a time (409 while one runs); the latest job of each setup is
kept in memory by the server process that runs it (`AppContext.calibrations`), so a restart
forgets finished jobs (their result is the stored version) and fails none silently: a job
that was running is simply gone, and nothing was stored. The work itself is
`services.setup_calibration`.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from sotmeasure.capture.base import FrameSource
from sotmeasure.errors import SotmeasureError
from sotmeasure.private_files import private_dir
from sotmeasure.services.errors import ConflictError, InvalidInputError
from sotmeasure.services.setup_calibration import (
    RECORD_FRAMES,
    RecordingGuide,
    calibrate_from_camera,
    calibrate_setup,
)
from sotmeasure.store.media_checks import VIDEO_SUFFIXES, check_video
from sotmeasure.store.models import SetupVersion, User

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from sotmeasure.settings import Settings

log = logging.getLogger(__name__)


class CalibrationState(StrEnum):
    """recording (camera only) -> calibrating -> done | failed"""

    RECORDING = "recording"
    CALIBRATING = "calibrating"
    DONE = "done"
    FAILED = "failed"


class CalibrationSource(StrEnum):
    CAMERA = "camera"
    UPLOAD = "upload"


@dataclass
class CalibrationJob:
    """One calibration of one setup's camera: its state, and its outcome when it ends."""

    setup_id: int
    source: CalibrationSource
    source_label: str
    guide: RecordingGuide | None = None
    state: CalibrationState = CalibrationState.RECORDING
    error: str | None = None
    version: int | None = None
    report: dict[str, Any] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def running(self) -> bool:
        with self.lock:
            return self.state in (CalibrationState.RECORDING, CalibrationState.CALIBRATING)

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            state, error, version, report = self.state, self.error, self.version, self.report
        guide = self.guide.snapshot() if self.guide is not None else {}
        return {
            "setup_id": self.setup_id,
            "state": state.value,
            "source": self.source.value,
            "source_label": self.source_label,
            "error": error,
            "version": version,
            "calibration_report": report,
        } | guide

    def finish(
        self,
        state: CalibrationState,
        *,
        error: str | None = None,
        version: SetupVersion | None = None,
    ) -> None:
        with self.lock:
            self.state, self.error = state, error
            if version is not None:
                self.version, self.report = version.version, version.calibration_report


class CalibrationJobs:
    """The latest calibration job of each setup (one server process)."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._sessions = sessions
        self._settings = settings
        self._jobs: dict[int, CalibrationJob] = {}
        self._lock = threading.Lock()

    def latest(self, setup_id: int) -> CalibrationJob | None:
        with self._lock:
            return self._jobs.get(setup_id)

    def _claim(self, job: CalibrationJob) -> None:
        with self._lock:
            running = self._jobs.get(job.setup_id)
            if running is not None and running.running:
                raise ConflictError("this setup's camera is being calibrated already")
            self._jobs[job.setup_id] = job

    def start_camera(
        self,
        user_id: int,
        setup_id: int,
        source: FrameSource,
        board: Any,
        board_json: Path,
        source_label: str,
    ) -> CalibrationJob:
        """Record a ChArUco clip from `source` (closed by the job) and calibrate from it."""
        job = CalibrationJob(
            setup_id, CalibrationSource.CAMERA, source_label, RecordingGuide(board, RECORD_FRAMES)
        )
        try:
            self._claim(job)
        except ConflictError:
            source.close()
            raise
        scratch = self._settings.tmp_dir

        def work(session: Session, user: User) -> SetupVersion:
            scratch.mkdir(parents=True, exist_ok=True)
            return calibrate_from_camera(
                session,
                user,
                setup_id,
                source,
                board_json,
                source_label=source_label,
                scratch_dir=scratch,
                guide=job.guide,
                on_recorded=lambda: job.finish(CalibrationState.CALIBRATING),
            )

        self._run(job, user_id, work)
        return job

    def start_upload(
        self, user_id: int, setup_id: int, folder: Path, clip: Path, board_json: Path, label: str
    ) -> CalibrationJob:
        """Calibrate from an uploaded clip saved in `folder` (a scratch folder under
        tmp_dir that the job removes when it ends, whatever the outcome)."""
        job = CalibrationJob(
            setup_id, CalibrationSource.UPLOAD, label, state=CalibrationState.CALIBRATING
        )
        try:
            self._claim(job)
        except ConflictError:
            shutil.rmtree(folder, ignore_errors=True)
            raise

        def work(session: Session, user: User) -> SetupVersion:
            return calibrate_setup(session, user, setup_id, clip, board_json, source_label=label)

        self._run(job, user_id, work, cleanup=lambda: shutil.rmtree(folder, ignore_errors=True))
        return job

    def _run(
        self,
        job: CalibrationJob,
        user_id: int,
        work: Callable[[Session, User], SetupVersion],
        cleanup: Callable[[], None] | None = None,
    ) -> None:
        """Run `work` in a thread; the outcome is published after `cleanup` ran, so a
        client that sees "done" or "failed" finds no scratch file left."""

        def run() -> None:
            state = CalibrationState.FAILED
            error: str | None = "the calibration stopped"
            version: SetupVersion | None = None
            try:
                with self._sessions() as session:
                    user = session.get_one(User, user_id)
                    version = work(session, user)
                    state, error = CalibrationState.DONE, None
            except SotmeasureError as exc:
                error = str(exc)
            except Exception as exc:
                log.exception("calibration of setup %d failed", job.setup_id)
                error = f"internal error while calibrating ({type(exc).__name__})"
            finally:
                if cleanup is not None:
                    cleanup()
                job.finish(state, error=error, version=version)

        name = f"calibrate-setup-{job.setup_id}"
        threading.Thread(target=run, name=name, daemon=True).start()


_CHUNK = 1 << 20


def start_uploaded_calibration(
    jobs: CalibrationJobs,
    settings: Settings,
    user: User,
    setup_id: int,
    clip: BinaryIO,
    filename: str | None,
    board: BinaryIO | None,
    board_json: Path,
    source_label: str,
) -> CalibrationJob:
    """Save an uploaded ChArUco clip (and board file) to a scratch folder, refuse it at once
    when it is not a readable video (InvalidInputError with the reason), and start the job.

    `board` None: the board file `board_json` (the bundled board)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix and suffix not in VIDEO_SUFFIXES:
        raise InvalidInputError(
            f"the calibration clip must be a video ({', '.join(VIDEO_SUFFIXES)}), not {suffix}"
        )
    private_dir(settings.tmp_dir)
    folder = private_dir(Path(tempfile.mkdtemp(prefix="calibration-", dir=settings.tmp_dir)))
    try:
        saved = folder / f"clip{suffix or '.mp4'}"
        _copy_limited(clip, saved, settings.max_upload_bytes)
        if board is not None:
            board_json = folder / "board.json"
            _copy_limited(board, board_json, 1 << 20)
        try:
            check_video(saved, max_side_px=settings.max_video_side_px)
        except SotmeasureError as exc:
            raise InvalidInputError(f"the calibration clip cannot be used: {exc}") from None
        return jobs.start_upload(user.id, setup_id, folder, saved, board_json, source_label)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _copy_limited(source: BinaryIO, target: Path, limit: int) -> None:
    written = 0
    with target.open("wb") as out:
        while chunk := source.read(_CHUNK):
            written += len(chunk)
            if written > limit:
                raise InvalidInputError(f"the file is larger than {limit // (1 << 20)} MiB")
            out.write(chunk)
