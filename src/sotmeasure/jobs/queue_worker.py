"""Queue workers (PostgreSQL): procrastinate workers that run the measure jobs.

`sotmeasure worker` runs one `QueueWorkers` in the foreground (any number of such
processes, on any machine that reaches the database and the data folder); `sotmeasure
serve` runs one in a background thread when `processing_workers` > 0. Each holds two
procrastinate workers sharing one connection pool:

- "measure" (queue `sotmeasure-measurements`, concurrency N): `sotmeasure.measure`
  jobs, one per measurement, deferred with the row (`store.job_queue`). A job claims its
  row (`jobs.runner`, fenced by the attempt number) and stores exactly one result.
- "maintenance" (queue `sotmeasure-maintenance`, concurrency 1): a periodic pass every
  few seconds, one per tick across all workers. It re-queues the jobs of workers whose
  heartbeat stopped (a `kill -9`, a lost machine: procrastinate's own stalled-job query
  and retry), queues `pending` rows that have no job (rows from before the queue), and
  fails `running` rows whose job is gone (it crashed outside the measure step).

What happens when:
- a worker is killed mid-job: its heartbeat stops; after `queue_stalled_after_s` the
  maintenance pass of another worker puts the job back to `todo` and a worker runs it
  again (the row still says `running`; the new claim takes it over with a new attempt
  number, so a late write of the dead run could not land).
- a worker is stopped (SIGTERM, Ctrl+C, server shutdown): running measurements get
  `queue_shutdown_grace_s` to finish; then each hands its row back to `pending` and its
  job back to the queue (procrastinate's retry of a job aborted by a shutdown).
- a job has been cut short `queue_max_attempts` times: the measurement fails with the
  reason, instead of crashing workers forever; the retry endpoint queues it anew.
- an API server restarts: nothing; it never touches running rows on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import Any

import procrastinate
from procrastinate.exceptions import JobAborted
from procrastinate.job_context import JobContext
from procrastinate.worker import Worker
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from sotmeasure.jobs.runner import MeasurementRunner, Stopping
from sotmeasure.settings import Settings
from sotmeasure.store.job_queue import (
    MAINTENANCE_QUEUE,
    MAINTENANCE_TASK,
    MEASURE_TASK,
    MEASUREMENT_QUEUE,
    defer_measurement,
)
from sotmeasure.store.models import Status

log = logging.getLogger(__name__)

#: Seconds between maintenance passes (croniter's sixth column is seconds; divides 60).
MAINTENANCE_EVERY_S = 5
#: PostgreSQL advisory lock key of the maintenance pass ("sotq"): one pass at a time.
_MAINTENANCE_LOCK_KEY = 0x736F7471
QUEUE_INTERRUPTED_REASON = (
    "interrupted: processing stopped without a result (see the worker log); retry to measure"
)


def gave_up_reason(runs: int) -> str:
    return (
        f"processing was cut short {runs} times (a worker was stopped or killed each time); "
        "retry to measure again"
    )


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as libpq reads it (procrastinate connects with psycopg)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


_LIVE_JOB = f"""
    SELECT 1 FROM procrastinate_jobs j
     WHERE j.task_name = '{MEASURE_TASK}'
       AND j.status IN ('todo', 'doing')
       AND j.args ->> 'measurement_id' = m.id::text
"""


def reconcile_rows(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """Queue pending rows without a job; fail running rows whose job is gone.

    One statement each, read in one snapshot: a job ends only after its row is final, so
    a row seen `running` with no live job really has lost it.
    """
    with sessions() as session, session.begin():
        orphans = list(
            session.scalars(
                text(
                    f"SELECT m.id FROM measurements m WHERE m.status = :pending "
                    f"AND NOT EXISTS ({_LIVE_JOB}) ORDER BY m.id"
                ),
                {"pending": Status.PENDING.value},
            )
        )
        for measurement_id in orphans:
            defer_measurement(session, int(measurement_id))
        failed = session.execute(
            text(
                f"UPDATE measurements m SET status = :failed, failure_reason = :reason, "
                f"finished_at = now() WHERE m.status = :running AND NOT EXISTS ({_LIVE_JOB})"
            ),
            {
                "failed": Status.FAILED.value,
                "running": Status.RUNNING.value,
                "reason": QUEUE_INTERRUPTED_REASON,
            },
        )
        lost = int(getattr(failed, "rowcount", 0) or 0)
    if orphans or lost:
        log.warning(
            "queue maintenance: %d pending row(s) queued, %d lost run(s) failed", len(orphans), lost
        )
    return len(orphans), lost


def _try_lock(engine: Engine) -> Connection | None:
    connection = engine.connect()
    got = connection.execute(
        text("SELECT pg_try_advisory_lock(:key)"), {"key": _MAINTENANCE_LOCK_KEY}
    ).scalar_one()
    connection.commit()
    if not got:
        connection.close()
        return None
    return connection


def _unlock(connection: Connection) -> None:
    try:
        connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _MAINTENANCE_LOCK_KEY})
        connection.commit()
    finally:
        connection.close()


def build_queue_app(
    settings: Settings,
    engine: Engine,
    sessions: sessionmaker[Session],
    runner: MeasurementRunner,
    pool_size: int,
) -> procrastinate.App:
    """A procrastinate App on the settings' database with sotmeasure's two tasks."""
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_url(settings.effective_database_url),
            min_size=1,
            max_size=pool_size,
        )
    )

    @app.task(
        name=MEASURE_TASK,
        queue=MEASUREMENT_QUEUE,
        pass_context=True,
        retry=procrastinate.RetryStrategy(retry_exceptions=[JobAborted]),
    )
    def measure(context: JobContext, measurement_id: int) -> str:
        runs = context.job.attempts  # earlier runs of this job, each cut short
        if runs >= settings.queue_max_attempts:
            runner.fail_unclaimed(measurement_id, gave_up_reason(runs))
            return "given up"
        # `running` too: the lock lets no other job of this row run, so a running row
        # is one whose earlier run died; the new claim takes over (fenced).
        claim = runner.claim(measurement_id, (Status.PENDING, Status.RUNNING))
        if claim is None:
            return "nothing to do"  # deleted, or already finished: processed once only
        try:
            runner.run(claim, context.should_abort)
        except Stopping:
            runner.release(claim)
            raise JobAborted(
                "the worker is stopping; the measurement goes back to the queue"
            ) from None
        return "processed"

    @app.periodic(cron=f"* * * * * */{MAINTENANCE_EVERY_S}", periodic_id="sotmeasure")
    @app.task(name=MAINTENANCE_TASK, queue=MAINTENANCE_QUEUE, pass_context=True)
    async def maintenance(context: JobContext, timestamp: int) -> str:
        lock = await asyncio.to_thread(_try_lock, engine)
        if lock is None:
            return "another pass is running"
        try:
            manager = context.app.job_manager
            stalled = list(
                await manager.get_stalled_jobs(
                    seconds_since_heartbeat=settings.queue_stalled_after_s
                )
            )
            for job in stalled:
                log.warning(
                    "job %s (%s %s) belonged to a worker presumed dead; re-queued",
                    job.id,
                    job.task_name,
                    job.task_kwargs,
                )
                await manager.retry_job(job)
            queued, lost = await asyncio.to_thread(reconcile_rows, sessions)
        finally:
            await asyncio.to_thread(_unlock, lock)
        return f"{len(stalled)} stalled job(s) re-queued, {queued} queued, {lost} failed"

    return app


async def _run_worker(worker: Worker) -> None:
    await worker.run()  # type: ignore[no-untyped-call]


class QueueWorkers:
    """The two procrastinate workers of one process; `run` blocks, `stop` is thread-safe."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        sessions: sessionmaker[Session],
        runner: MeasurementRunner,
        *,
        concurrency: int,
        handle_signals: bool,
    ) -> None:
        self._settings = settings
        self._concurrency = concurrency
        self._handle_signals = handle_signals
        # connections: measure jobs' own sessions use SQLAlchemy; procrastinate needs a
        # few per worker (fetch, heartbeat, listen, finish) plus the maintenance pass.
        self._app = build_queue_app(settings, engine, sessions, runner, pool_size=concurrency + 8)
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None

    def _worker(self, name: str, queue: str, concurrency: int) -> Worker:
        s = self._settings
        return Worker(
            self._app,
            queues=[queue],
            name=name,
            concurrency=concurrency,
            install_signal_handlers=False,
            update_heartbeat_interval=s.queue_heartbeat_s,
            stalled_worker_timeout=s.queue_stalled_after_s,
            shutdown_graceful_timeout=s.queue_shutdown_grace_s,
            delete_jobs="successful",
            fetch_job_polling_interval=max(1.0, s.queue_heartbeat_s),
        )

    def run(self) -> None:
        """Process jobs until `stop` (or SIGTERM/SIGINT when handling signals)."""
        asyncio.run(self._main())

    async def _main(self) -> None:
        async with self._app.open_async():
            workers = [
                self._worker("measure", MEASUREMENT_QUEUE, self._concurrency),
                self._worker("maintenance", MAINTENANCE_QUEUE, 1),
            ]
            if self._handle_signals:
                loop = asyncio.get_running_loop()
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.add_signal_handler(sig, self._stop_requested.set)
            runs = [asyncio.create_task(_run_worker(w)) for w in workers]
            watcher = asyncio.create_task(self._stop_when_asked(workers, runs))
            done, _ = await asyncio.wait(runs, return_when=asyncio.FIRST_COMPLETED)
            self._stop_requested.set()  # one ended (stopped, or failed): stop the other too
            await asyncio.gather(*runs, return_exceptions=True)
            await watcher
            for task in done:
                error = task.exception()
                if error is not None:
                    raise error

    async def _stop_when_asked(self, workers: list[Worker], runs: list[asyncio.Task[None]]) -> None:
        """Poll the stop flag (set from any thread or a signal) and stop the workers; repeat
        until they ended, since a worker clears a stop that came before its start."""
        while not all(run.done() for run in runs):
            if self._stop_requested.is_set():
                for worker in workers:
                    worker.stop()  # type: ignore[no-untyped-call]
            await asyncio.sleep(0.2)

    def stop(self) -> None:
        """Ask both workers to stop (running jobs: grace, then back to the queue)."""
        self._stop_requested.set()

    # The server's in-process use: the same workers in a background thread.
    def start_in_thread(self) -> None:
        self._thread = threading.Thread(target=self._run_logged, name="sotmeasure-queue")
        self._thread.start()

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception:
            log.exception("the queue worker stopped with an error")

    def stop_thread(self, timeout_s: float) -> None:
        self.stop()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wake(self) -> None:
        """Nothing to do: procrastinate's NOTIFY wakes the workers when a job is deferred."""

    def describe(self) -> dict[str, Any]:
        return {"concurrency": self._concurrency, "queues": [MEASUREMENT_QUEUE, MAINTENANCE_QUEUE]}
