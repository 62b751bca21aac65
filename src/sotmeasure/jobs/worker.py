"""The background worker: threads that claim `pending` measurements and process them.

State machine of a measurement row:

    pending --claim--> running --ok--> done
                          |--error--> failed (failure_reason = the user-readable message)
    failed --retry (API)--> pending

Claiming is one conditional UPDATE (`... WHERE id = :id AND status = 'pending'`), so two
workers (or two threads) never process the same row. A server killed while a row is
`running` leaves it `running`; `fail_interrupted` (run at start-up, before the workers)
turns such rows into `failed` with INTERRUPTED_REASON, and the retry endpoint requeues them.
On an orderly shutdown the progress callback raises inside the measure step so the row is
failed the same way instead of being left half-done.

One server process per database: start-up recovery assumes no other live process is
processing the same rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from sotmeasure.errors import SotmeasureError
from sotmeasure.jobs.results import apply_result
from sotmeasure.measure.result import ResultRecord
from sotmeasure.store.models import Measurement, Recording, Status
from sotmeasure.store.recording_files import RecordingFiles
from sotmeasure.store.types import utcnow

log = logging.getLogger(__name__)

INTERRUPTED_REASON = "interrupted: server stopped during processing"
_PROGRESS_MIN_STEP = 0.02
_PROGRESS_MIN_INTERVAL_S = 0.5

ProgressFn = Callable[..., None]
#: Measures one video with a setup version (its `setup_versions.id`; None: the installation
#: setup of the settings file).
Processor = Callable[[Path, int | None, ProgressFn], ResultRecord]


class _Stopping(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised from the progress callback when the server shuts down mid-measurement."""


def fail_interrupted(session_factory: sessionmaker[Session]) -> int:
    """Mark rows left `running` by a stopped server as failed and retryable; return how many."""
    with session_factory() as session, session.begin():
        result = session.execute(
            update(Measurement)
            .where(Measurement.status == Status.RUNNING.value)
            .values(
                status=Status.FAILED.value, failure_reason=INTERRUPTED_REASON, finished_at=utcnow()
            )
        )
        count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        log.warning(
            "%d measurement(s) were interrupted by a server stop; now failed, retryable", count
        )
    return count


@dataclass(frozen=True, slots=True)
class _Job:
    measurement_id: int
    video: Path
    setup_version_id: int | None


class MeasurementWorker:
    """A small pool of threads processing pending measurements, started by the app lifespan."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        files: RecordingFiles,
        processor: Processor,
        *,
        threads: int,
        poll_interval_s: float,
    ) -> None:
        self._sessions = session_factory
        self._files = files
        self._processor = processor
        self._thread_count = threads
        self._poll_interval_s = poll_interval_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def start(self) -> None:
        for i in range(self._thread_count):
            thread = threading.Thread(target=self._loop, name=f"sotmeasure-worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """Tell idle threads that new work was committed (otherwise they poll)."""
        self._wake.set()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask every thread to stop and wait for them (in-flight rows become failed)."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._claim_next()
            except Exception:
                log.exception("could not claim a measurement; retrying after a pause")
                job = None
            if job is None:
                self._wake.wait(self._poll_interval_s)
                self._wake.clear()
                continue
            self._run(job)

    def _claim_next(self) -> _Job | None:
        """Atomically move the oldest pending row to running; None when there is none."""
        for _ in range(5):  # another thread may win the race for the same row
            with self._sessions() as session, session.begin():
                candidate = session.scalar(
                    select(Measurement.id)
                    .where(Measurement.status == Status.PENDING.value)
                    .order_by(Measurement.id)
                    .limit(1)
                )
                if candidate is None:
                    return None
                claimed = session.execute(
                    update(Measurement)
                    .where(Measurement.id == candidate, Measurement.status == Status.PENDING.value)
                    .values(
                        status=Status.RUNNING.value,
                        progress=0.0,
                        attempts=Measurement.attempts + 1,
                        started_at=utcnow(),
                        failure_reason=None,
                    )
                )
                if not getattr(claimed, "rowcount", 0):
                    continue
                recording = session.scalar(
                    select(Recording)
                    .join(Measurement, Measurement.recording_id == Recording.id)
                    .where(Measurement.id == candidate)
                )
                if recording is None:
                    session.execute(
                        update(Measurement)
                        .where(Measurement.id == candidate)
                        .values(
                            status=Status.FAILED.value,
                            finished_at=utcnow(),
                            failure_reason="this measurement has no recording to process",
                        )
                    )
                    continue
                video = self._files.video_path(
                    recording.kind, recording.stored_name, recording.media or {}
                )
                version_id = session.scalar(
                    select(Measurement.setup_version_id).where(Measurement.id == candidate)
                )
                return _Job(candidate, video, version_id)
        return None

    def _run(self, job: _Job) -> None:
        log.info("processing measurement %d (%s)", job.measurement_id, job.video.name)
        try:
            if not job.video.is_file():
                raise SotmeasureError("the stored recording file is missing from the data folder")
            record = self._processor(
                job.video, job.setup_version_id, self._progress_callback(job.measurement_id)
            )
        except _Stopping:
            self._finish_failed(job.measurement_id, INTERRUPTED_REASON)
        except SotmeasureError as exc:
            self._finish_failed(job.measurement_id, str(exc) or type(exc).__name__)
        except ValidationError as exc:
            log.error(
                "measurement %d: the measure step returned an invalid result: %s",
                job.measurement_id,
                exc,
            )
            self._finish_failed(
                job.measurement_id, "internal error: the measurement result was incomplete"
            )
        except Exception as exc:
            log.exception("measurement %d failed with an unexpected error", job.measurement_id)
            self._finish_failed(
                job.measurement_id,
                f"internal error while processing ({type(exc).__name__}); see the server log",
            )
        else:
            self._finish_done(job.measurement_id, record)

    def _progress_callback(self, measurement_id: int) -> ProgressFn:
        """A callback accepting `(fraction)` or `(done, total)`; stores throttled progress."""
        last = {"value": 0.0, "at": 0.0}

        def progress(*args: Any, **_kwargs: Any) -> None:
            if self._stop.is_set():
                raise _Stopping
            try:
                if len(args) >= 2:  # (done, total, ...): total <= 0 means unknown
                    if float(args[1]) <= 0:
                        return
                    value = float(args[0]) / float(args[1])
                elif args:
                    value = float(args[0])
                else:
                    return
            except (TypeError, ValueError):
                return
            value = min(max(value, 0.0), 0.99)  # 1.0 only once the result is stored
            now = time.monotonic()
            if (
                value - last["value"] < _PROGRESS_MIN_STEP
                or now - last["at"] < _PROGRESS_MIN_INTERVAL_S
            ):
                return
            last.update(value=value, at=now)
            try:
                with self._sessions() as session, session.begin():
                    session.execute(
                        update(Measurement)
                        .where(
                            Measurement.id == measurement_id,
                            Measurement.status == Status.RUNNING.value,
                        )
                        .values(progress=value)
                    )
            except Exception:  # progress is advisory: never fail a measurement for it
                log.warning(
                    "could not store progress of measurement %d", measurement_id, exc_info=True
                )

        return progress

    def _finish_done(self, measurement_id: int, record: ResultRecord) -> None:
        with self._sessions() as session, session.begin():
            row = session.get(Measurement, measurement_id)
            if row is None or row.status != Status.RUNNING.value:
                log.info("measurement %d changed while processing; result dropped", measurement_id)
                return
            apply_result(row, record)
            row.status = Status.DONE.value
            row.progress = 1.0
            row.failure_reason = None
            row.finished_at = utcnow()
        log.info("measurement %d done", measurement_id)

    def _finish_failed(self, measurement_id: int, reason: str) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                update(Measurement)
                .where(Measurement.id == measurement_id, Measurement.status == Status.RUNNING.value)
                .values(
                    status=Status.FAILED.value, failure_reason=reason[:2000], finished_at=utcnow()
                )
            )
        log.info("measurement %d failed: %s", measurement_id, reason)
