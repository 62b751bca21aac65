"""The embedded worker (SQLite): threads inside the server that claim `pending` measurements.

State machine of a measurement row:

    pending --claim--> running --ok--> done
                          |--error--> failed (failure_reason = the user-readable message)
    failed --retry (API)--> pending

Claiming is one conditional UPDATE (`... WHERE id = :id AND status = 'pending'`), so two
threads never process the same row (`jobs.runner`). A server killed while a row is
`running` leaves it `running`; `fail_interrupted` (run at start-up, before the threads)
turns such rows into `failed` with INTERRUPTED_REASON, and the retry endpoint requeues them.
On an orderly shutdown the progress callback raises inside the measure step so the row is
failed the same way instead of being left half-done.

One server process per SQLite database: start-up recovery assumes no other live process is
processing the same rows. PostgreSQL installs use the job queue instead
(`jobs.queue_worker`): any number of worker processes, and no start-up recovery that could
fail a row another process is working on.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from sotmeasure.jobs.runner import Claim, MeasurementRunner, Processor, Stopping
from sotmeasure.store.models import Measurement, Status
from sotmeasure.store.recording_files import RecordingFiles
from sotmeasure.store.types import utcnow

log = logging.getLogger(__name__)

INTERRUPTED_REASON = "interrupted: server stopped during processing"


def fail_interrupted(session_factory: sessionmaker[Session]) -> int:
    """Mark rows left `running` by a stopped server as failed and retryable; return how many.

    Only for the embedded (SQLite, one process) worker: with the job queue, a running row
    may belong to a live worker in another process.
    """
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
        self._runner = MeasurementRunner(session_factory, files, processor)
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
                claim = self._runner.claim_next_pending()
            except Exception:
                log.exception("could not claim a measurement; retrying after a pause")
                claim = None
            if claim is None:
                self._wake.wait(self._poll_interval_s)
                self._wake.clear()
                continue
            self._run(claim)

    def _run(self, claim: Claim) -> None:
        try:
            self._runner.run(claim, self._stop.is_set)
        except Stopping:
            self._runner.finish_failed(claim, INTERRUPTED_REASON)
