"""Engine and session factory: SQLite (WAL, foreign keys on) or PostgreSQL, chosen by URL.

Created inside `create_app` / the CLI, never at import time, so that tests can run several
apps on several databases in one process.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from sotmeasure.private_files import FILE_MODE, private_dir

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000


def _configure_sqlite(engine: Engine) -> None:
    """Per-connection SQLite set-up.

    - foreign_keys=ON: SQLite ignores FOREIGN KEY clauses unless told otherwise.
    - journal_mode=WAL: readers do not block the writer (the API reads while workers write).
    - busy_timeout: wait for the write lock instead of failing at once.
    - BEGIN IMMEDIATE: take the write lock at the start of every transaction. Deferred
      transactions that read then write can deadlock each other under concurrency and
      SQLite then fails one of them at once ("database is locked") despite busy_timeout.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" event decide
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _private_sqlite_file(path: Path) -> None:
    """Create the database file 0600 before SQLite does (its WAL and shared-memory files
    copy the database's mode); missing parent folders are made 0700."""
    missing = [p for p in path.parents if not p.exists()]
    if missing:
        private_dir(missing[0])
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))  # empty = a new database
    for file in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if file.is_file():
            file.chmod(FILE_MODE)


def make_engine(url: str) -> Engine:
    """An Engine for `url`; SQLite files get their parent folder created and are configured."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_sqlite_file(Path(parsed.database))
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=20,
            max_overflow=40,
        )
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=40)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
