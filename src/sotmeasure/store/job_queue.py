"""The measurement job queue on PostgreSQL: procrastinate's jobs, deferred in the row's
own transaction.

Why procrastinate: the service already runs on PostgreSQL, and procrastinate keeps its
queue in the same database (tables, functions, LISTEN/NOTIFY), so scaling out needs no
broker, and a job is inserted in the same transaction as the `pending` measurement row it
processes: either both are committed or neither (no lost job, no job for a rolled-back
row). Workers (`sotmeasure worker`, or the server's own) run the task by name; see
`sotmeasure.jobs.queue_worker` and docs/reliability.md ("Service workers").

SQLite installs have no queue: the server's worker threads claim `pending` rows directly
(`sotmeasure.jobs.worker`), so every function here is a no-op there.

The schema procrastinate needs is created by the Alembic revision `0010_job_queue`
(`create_queue_schema`), pinned to the procrastinate version in pyproject.toml.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

#: procrastinate task that measures one stored recording: kwargs {"measurement_id": id}.
MEASURE_TASK = "sotmeasure.measure"
#: procrastinate task run every few seconds: re-queues jobs of dead workers.
MAINTENANCE_TASK = "sotmeasure.queue_maintenance"
MEASUREMENT_QUEUE = "sotmeasure-measurements"
MAINTENANCE_QUEUE = "sotmeasure-maintenance"


def measurement_lock(measurement_id: int) -> str:
    """procrastinate lock: two jobs of one measurement never run at the same time."""
    return f"sotmeasure-measurement-{measurement_id}"


def uses_job_queue(dialect_name: str) -> bool:
    """True when measurements go through procrastinate (PostgreSQL), not worker threads."""
    return dialect_name == "postgresql"


@cache
def _deferring_app() -> Any:
    """A procrastinate App that is never opened: it only turns a task name and kwargs into
    the INSERT procrastinate uses, run on the caller's connection."""
    import procrastinate

    return procrastinate.App(connector=procrastinate.PsycopgConnector())


def defer_measurement(session: Session, measurement_id: int) -> None:
    """Queue the measure job of `measurement_id` in the session's open transaction
    (committed or rolled back with the row; no-op on SQLite)."""
    connection = session.connection()
    if not uses_job_queue(connection.dialect.name):
        return
    driver_connection = connection.connection.driver_connection  # psycopg.Connection
    _deferring_app().configure_task(
        MEASURE_TASK,
        queue=MEASUREMENT_QUEUE,
        lock=measurement_lock(measurement_id),
        connection=driver_connection,
    ).defer(measurement_id=measurement_id)


def open_jobs(connection: Connection) -> int:
    """Jobs still to run or running (`todo`, `doing`): 0 once every measurement is through."""
    return int(
        connection.execute(
            text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")
        ).scalar_one()
    )


def live_queue_workers(session: Session, heard_within_s: float) -> int:
    """How many queue workers (any process, any machine) sent a heartbeat lately."""
    return int(
        session.execute(
            text(
                "SELECT count(*) FROM procrastinate_workers "
                "WHERE last_heartbeat > now() - make_interval(secs => :s)"
            ),
            {"s": heard_within_s},
        ).scalar_one()
    )


def create_queue_schema(connection: Connection) -> None:
    """Create procrastinate's tables, types and functions (its own schema.sql, verbatim)."""
    from procrastinate.schema import SchemaManager

    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(SchemaManager.get_schema())


def drop_queue_schema(connection: Connection) -> None:
    """Remove every procrastinate object (tables, then functions, then types)."""
    tables = connection.execute(
        text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'procrastinate%'")
    ).scalars()
    for table in list(tables):
        connection.execute(text(f'DROP TABLE IF EXISTS "{table}" CASCADE'))
    functions = connection.execute(
        text("SELECT oid::regprocedure::text FROM pg_proc WHERE proname LIKE 'procrastinate%'")
    ).scalars()
    for signature in list(functions):
        connection.execute(text(f"DROP FUNCTION IF EXISTS {signature} CASCADE"))
    types = connection.execute(
        text(
            "SELECT typname FROM pg_type "
            "WHERE typname LIKE 'procrastinate%' AND typtype IN ('e', 'c')"
        )
    ).scalars()
    for type_name in list(types):
        connection.execute(text(f'DROP TYPE IF EXISTS "{type_name}" CASCADE'))


def is_queue_table(name: str | None) -> bool:
    """procrastinate's own tables: not in sotmeasure's models, so autogenerate skips them."""
    return bool(name) and str(name).startswith("procrastinate")
