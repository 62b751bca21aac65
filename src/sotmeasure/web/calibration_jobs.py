"""Calibrating a setup's camera from the page, in a thread the page polls.

One job per setup: `recording` (the guide's numbers grow: frames, views with the board,
coverage, image corners reached, what to do next), `calibrating`, then `done` (the new
version) or `failed` (the reason; nothing stored). The work itself is the service's
(`services.setup_calibration.calibrate_from_camera`); this module only runs it off the
request and keeps its state for `GET /ui/setups/{id}/calibration.json`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sotmeasure.capture.base import FrameSource
from sotmeasure.errors import SotmeasureError
from sotmeasure.services.context import AppContext
from sotmeasure.services.errors import ConflictError
from sotmeasure.services.setup_calibration import (
    RECORD_FRAMES,
    RecordingGuide,
    calibrate_from_camera,
)
from sotmeasure.store.models import User

log = logging.getLogger(__name__)


class CalibrationState(StrEnum):
    """recording -> calibrating -> done | failed"""

    RECORDING = "recording"
    CALIBRATING = "calibrating"
    DONE = "done"
    FAILED = "failed"


@dataclass
class CalibrationJob:
    setup_id: int
    guide: RecordingGuide
    state: CalibrationState = CalibrationState.RECORDING
    error: str | None = None
    version: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def to_dict(self) -> dict[str, Any]:
        with self.lock:
            state, error, version = self.state, self.error, self.version
        return {"state": state.value, "error": error, "version": version} | (self.guide.snapshot())

    def finish(
        self, state: CalibrationState, *, error: str | None = None, version: int | None = None
    ) -> None:
        with self.lock:
            self.state, self.error, self.version = state, error, version


class CalibrationJobs:
    """The latest calibration job of each setup (one server, one camera per setup)."""

    def __init__(self) -> None:
        self._jobs: dict[int, CalibrationJob] = {}
        self._lock = threading.Lock()

    def latest(self, setup_id: int) -> CalibrationJob | None:
        with self._lock:
            return self._jobs.get(setup_id)

    def start(
        self,
        ctx: AppContext,
        user_id: int,
        setup_id: int,
        source: FrameSource,
        board: Any,
        board_json: Any,
        source_label: str,
    ) -> CalibrationJob:
        with self._lock:
            running = self._jobs.get(setup_id)
            if running is not None and running.state in (
                CalibrationState.RECORDING,
                CalibrationState.CALIBRATING,
            ):
                source.close()
                raise ConflictError("this setup's camera is being calibrated already")
            job = CalibrationJob(setup_id, RecordingGuide(board, RECORD_FRAMES))
            self._jobs[setup_id] = job

        def run() -> None:
            try:
                with ctx.sessions() as session:
                    user = session.get_one(User, user_id)
                    ctx.settings.tmp_dir.mkdir(parents=True, exist_ok=True)
                    version = calibrate_from_camera(
                        session,
                        user,
                        setup_id,
                        source,
                        board_json,
                        source_label=source_label,
                        scratch_dir=ctx.settings.tmp_dir,
                        guide=job.guide,
                        on_recorded=lambda: job.finish(CalibrationState.CALIBRATING),
                    )
                    job.finish(CalibrationState.DONE, version=version.version)
            except SotmeasureError as exc:
                job.finish(CalibrationState.FAILED, error=str(exc))
            except Exception as exc:
                log.exception("calibration of setup %d failed", setup_id)
                job.finish(
                    CalibrationState.FAILED,
                    error=f"internal error while calibrating ({type(exc).__name__})",
                )

        threading.Thread(target=run, name=f"calibrate-setup-{setup_id}", daemon=True).start()
        return job
