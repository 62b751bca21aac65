"""One measurement from claim to result, shared by both ways of running the background work:
the server's worker threads (SQLite, `jobs.worker`) and procrastinate jobs (PostgreSQL,
`jobs.queue_worker`).

A claim moves the row to `running`, counts the attempt and records who processes it
(`processed_by` = "host:pid"). The new `attempts` value is the claim's fencing token:
progress and the final result are written only `WHERE attempts = <this claim's>`, so a
run that lost its claim (its worker was presumed dead and the job handed to another)
can never overwrite the row, and a measurement gets exactly one stored result.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from sotmeasure.errors import SotmeasureError
from sotmeasure.jobs.native_memory import (
    keep_large_blocks_in_heap,
    limit_malloc_arenas,
    release_freed_memory,
)
from sotmeasure.jobs.results import apply_result
from sotmeasure.measure.result import ResultRecord
from sotmeasure.store.models import Measurement, Recording, Status
from sotmeasure.store.recording_files import RecordingFiles
from sotmeasure.store.types import utcnow

log = logging.getLogger(__name__)

_PROGRESS_MIN_STEP = 0.02
_PROGRESS_MIN_INTERVAL_S = 0.5
NO_RECORDING_REASON = "this measurement has no recording to process"

ProgressFn = Callable[..., None]
#: Measures one video with a setup version (its `setup_versions.id`; None: the installation
#: setup of the settings file) in a mode ("markerless" / "stickers"; None: the default).
Processor = Callable[[Path, int | None, str | None, ProgressFn], ResultRecord]


class Stopping(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised from the progress callback when the worker is asked to stop mid-measurement."""


def worker_identity() -> str:
    """ "host:pid" of this process, stored in `processed_by` when it claims a row."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this process now processes; `attempt` is the fencing token."""

    measurement_id: int
    attempt: int
    video: Path
    setup_version_id: int | None = None
    mode: str | None = None


class MeasurementRunner:
    """Claims rows, runs the measure step on them and stores the outcome (fenced)."""

    def __init__(
        self, session_factory: sessionmaker[Session], files: RecordingFiles, processor: Processor
    ) -> None:
        self._sessions = session_factory
        self._files = files
        self._processor = processor
        self._identity = worker_identity()
        # Before the measuring threads start: their frames then share two malloc arenas
        # instead of one each (jobs/native_memory.py); and frames stay off fresh mmaps
        # where the environment fixed the allocator's thresholds (a container's tuning).
        limit_malloc_arenas()
        keep_large_blocks_in_heap()

    def claim_next_pending(self) -> Claim | None:
        """The oldest pending row, claimed; None when there is none (worker threads)."""
        for _ in range(5):  # another thread may win the race for the same row
            with self._sessions() as session:
                candidate = session.scalar(
                    select(Measurement.id)
                    .where(
                        Measurement.status == Status.PENDING.value,
                        Measurement.deleted_at.is_(None),
                    )
                    .order_by(Measurement.id)
                    .limit(1)
                )
            if candidate is None:
                return None
            claim = self.claim(candidate, (Status.PENDING,))
            if claim is not None:
                return claim
        return None

    def claim(self, measurement_id: int, from_states: tuple[Status, ...]) -> Claim | None:
        """Move the row to running if it is in one of `from_states`; None when it is not
        (deleted, already finished, or claimed by someone else)."""
        with self._sessions() as session, session.begin():
            attempt = session.scalar(
                update(Measurement)
                .where(
                    Measurement.id == measurement_id,
                    Measurement.status.in_([s.value for s in from_states]),
                    Measurement.deleted_at.is_(None),
                )
                .values(
                    status=Status.RUNNING.value,
                    progress=0.0,
                    attempts=Measurement.attempts + 1,
                    started_at=utcnow(),
                    finished_at=None,
                    failure_reason=None,
                    processed_by=self._identity,
                )
                .returning(Measurement.attempts)
            )
            if attempt is None:
                return None
            recording = session.scalar(
                select(Recording)
                .join(Measurement, Measurement.recording_id == Recording.id)
                .where(Measurement.id == measurement_id)
            )
            if recording is not None:
                video = self._files.video_path(
                    recording.kind, recording.stored_name, recording.media or {}
                )
                version_id, mode = session.execute(
                    select(Measurement.setup_version_id, Measurement.mode).where(
                        Measurement.id == measurement_id
                    )
                ).one()
                return Claim(measurement_id, int(attempt), video, version_id, mode)
        self.finish_failed(Claim(measurement_id, int(attempt), Path()), NO_RECORDING_REASON)
        return None

    def run(self, claim: Claim, should_stop: Callable[[], bool]) -> None:
        """Measure the claimed row and store done/failed; `Stopping` propagates (the caller
        decides whether a stopped run fails the row or hands it back to the queue)."""
        log.info("processing measurement %d (%s)", claim.measurement_id, claim.video.name)
        try:
            self._measure(claim, should_stop)
        finally:
            release_freed_memory()  # the measurement's buffers, back to the system

    def _measure(self, claim: Claim, should_stop: Callable[[], bool]) -> None:
        """`run` without the clean-up."""
        try:
            if not claim.video.is_file():
                raise SotmeasureError("the stored recording file is missing from the data folder")
            record = self._processor(
                claim.video,
                claim.setup_version_id,
                claim.mode,
                self._progress_callback(claim, should_stop),
            )
        except Stopping:
            raise
        except SotmeasureError as exc:
            self.finish_failed(claim, str(exc) or type(exc).__name__)
        except ValidationError as exc:
            log.error(
                "measurement %d: the measure step returned an invalid result: %s",
                claim.measurement_id,
                exc,
            )
            self.finish_failed(claim, "internal error: the measurement result was incomplete")
        except Exception as exc:
            log.exception("measurement %d failed with an unexpected error", claim.measurement_id)
            self.finish_failed(
                claim,
                f"internal error while processing ({type(exc).__name__}); see the server log",
            )
        else:
            self.finish_done(claim, record)

    def _progress_callback(self, claim: Claim, should_stop: Callable[[], bool]) -> ProgressFn:
        """A callback accepting `(fraction)` or `(done, total)`; stores throttled progress."""
        last = {"value": 0.0, "at": 0.0}

        def progress(*args: Any, **_kwargs: Any) -> None:
            if should_stop():
                raise Stopping
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
                        update(Measurement).where(*_held_by(claim)).values(progress=value)
                    )
            except Exception:  # progress is advisory: never fail a measurement for it
                log.warning(
                    "could not store progress of measurement %d",
                    claim.measurement_id,
                    exc_info=True,
                )

        return progress

    def finish_done(self, claim: Claim, record: ResultRecord) -> None:
        with self._sessions() as session, session.begin():
            row = session.scalar(select(Measurement).where(*_held_by(claim)).with_for_update())
            if row is None:
                log.info(
                    "measurement %d changed while processing; result dropped",
                    claim.measurement_id,
                )
                return
            apply_result(row, record)
            row.status = Status.DONE.value
            row.progress = 1.0
            row.failure_reason = None
            row.finished_at = utcnow()
        log.info("measurement %d done", claim.measurement_id)

    def finish_failed(self, claim: Claim, reason: str) -> None:
        with self._sessions() as session, session.begin():
            session.execute(
                update(Measurement)
                .where(*_held_by(claim))
                .values(
                    status=Status.FAILED.value, failure_reason=reason[:2000], finished_at=utcnow()
                )
            )
        log.info("measurement %d failed: %s", claim.measurement_id, reason)

    def release(self, claim: Claim) -> None:
        """Hand a stopped run back: the row is `pending` again, for the next worker."""
        with self._sessions() as session, session.begin():
            session.execute(
                update(Measurement)
                .where(*_held_by(claim))
                .values(status=Status.PENDING.value, progress=0.0, started_at=None)
            )
        log.info("measurement %d handed back to the queue", claim.measurement_id)

    def fail_unclaimed(self, measurement_id: int, reason: str) -> None:
        """Fail a row that is pending or running without claiming it (given-up jobs)."""
        with self._sessions() as session, session.begin():
            session.execute(
                update(Measurement)
                .where(
                    Measurement.id == measurement_id,
                    Measurement.status.in_([Status.PENDING.value, Status.RUNNING.value]),
                )
                .values(
                    status=Status.FAILED.value, failure_reason=reason[:2000], finished_at=utcnow()
                )
            )
        log.warning("measurement %d failed: %s", measurement_id, reason)


def _held_by(claim: Claim) -> tuple[Any, ...]:
    """WHERE clauses: the row is still running under this claim."""
    return (
        Measurement.id == claim.measurement_id,
        Measurement.status == Status.RUNNING.value,
        Measurement.attempts == claim.attempt,
    )
