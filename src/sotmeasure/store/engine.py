"""Engine and session factory: SQLite (WAL, foreign keys on) or PostgreSQL, chosen by URL.

Created inside `create_app` / the CLI, never at import time, so that tests can run several
apps on several databases in one process.

SQLite transactions (why they are begun the way they are):

- Reads never take the write lock. The driver runs in autocommit mode and SQLAlchemy's
  "begin" emits nothing, so every SELECT outside a write is its own short WAL read: it sees
  the last commit, never waits for a writer and holds nothing between statements (the same
  statement-level consistency as PostgreSQL's default READ COMMITTED).
- A write transaction starts at its first write statement with `BEGIN IMMEDIATE`. Taking
  the write lock before anything is read inside the transaction is what makes the busy
  timeout work: SQLite waits for (and then gets) a free write lock, whereas a deferred
  transaction that read first and then tries to write fails at once with "database is
  locked" whenever another writer committed in between (its snapshot is stale; no amount
  of waiting can fix that, so SQLite does not wait).
- So the write lock is held from a service's first flush to its commit only: no request
  holds it while it hashes a password, copies a file or waits for the thread pool.
- Code whose reads decide its writes (the last-admin check) calls `lock_for_write` first,
  which begins the immediate transaction before those reads (PostgreSQL: FOR UPDATE).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from sotmeasure.private_files import FILE_MODE, private_dir

log = logging.getLogger(__name__)

#: How long a writer waits for SQLite's write lock by default (Settings.sqlite_busy_timeout_s).
SQLITE_BUSY_TIMEOUT_S = 15.0

#: Connections per engine: 20 kept, up to 80 in all (Settings.max_concurrent_requests stays
#: below, leaving room for the worker and capture threads).
POOL_SIZE = 20
POOL_OVERFLOW = 60

#: First words of the statements that need the write lock (DDL included, for migrations).
_WRITE_VERBS = frozenset(
    {"INSERT", "UPDATE", "DELETE", "REPLACE", "SAVEPOINT", "CREATE", "DROP", "ALTER"}
)


def _is_write(statement: str) -> bool:
    first = statement.lstrip().split(None, 1)
    return bool(first) and first[0].upper() in _WRITE_VERBS


class _WriterQueue:
    """The server's own writers take turns in a Python lock before `BEGIN IMMEDIATE`.

    Why: SQLite's busy handler polls (sleeps of 1 to 100 ms) and is not fair, so under many
    concurrent writers some can starve past the busy timeout while others win repeatedly.
    A lock wakes the next writer as soon as one ends. SQLite's busy timeout still covers
    the commit itself and writers of other processes (the CLI).
    """

    _HOLDS = "sotmeasure_writer"

    def __init__(self, timeout_s: float) -> None:
        self._lock = threading.Lock()  # not an RLock: a commit may end on another thread
        self._timeout_s = timeout_s

    def begin(self, record_info: dict[Any, Any], driver_connection: Any) -> None:
        """Start a write transaction unless one is open (waits up to the busy timeout)."""
        if driver_connection.in_transaction:
            return
        if not record_info.get(self._HOLDS):
            if not self._lock.acquire(timeout=self._timeout_s):
                raise sqlite3.OperationalError("database is locked (other writers were first)")
            record_info[self._HOLDS] = True
        try:
            driver_connection.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.end(record_info)
            raise

    def end(self, record_info: dict[Any, Any]) -> None:
        """The connection's transaction ends (commit, rollback, reset or close)."""
        if record_info.pop(self._HOLDS, False):
            self._lock.release()


_WRITERS: weakref.WeakKeyDictionary[Engine, _WriterQueue] = weakref.WeakKeyDictionary()


def _configure_sqlite(engine: Engine, busy_timeout_s: float) -> None:
    """Per-connection SQLite set-up (see the module docstring for the transaction rules).

    - foreign_keys=ON: SQLite ignores FOREIGN KEY clauses unless told otherwise.
    - journal_mode=WAL: readers do not block the writer, the writer does not block readers.
    - busy_timeout: a writer waits for the write lock instead of failing at once.
    """
    writers = _WRITERS[engine] = _WriterQueue(busy_timeout_s)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # autocommit: BEGIN is ours to emit
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(
        conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        if _is_write(statement):
            writers.begin(conn.connection.info, conn.connection.driver_connection)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _transaction_ends(conn: Any) -> None:
        writers.end(conn.connection.info)

    @event.listens_for(engine, "reset")
    def _returned_to_pool(_dbapi: Any, record: Any, _state: Any) -> None:
        writers.end(record.info)

    @event.listens_for(engine, "close")
    def _closed(_dbapi: Any, record: Any) -> None:
        writers.end(record.info)


def lock_for_write(session: Session) -> None:
    """Begin the write transaction now, before the reads that decide what to write.

    SQLite: `BEGIN IMMEDIATE` (one writer at a time, so the reads that follow cannot be
    invalidated before the commit). PostgreSQL: nothing; lock the rows read with
    `SELECT ... FOR UPDATE` instead.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        _WRITERS[connection.engine].begin(
            connection.connection.info, connection.connection.driver_connection
        )


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


def make_engine(url: str, *, sqlite_busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> Engine:
    """An Engine for `url`; SQLite files get their parent folder created and are configured."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            _private_sqlite_file(Path(parsed.database))
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": sqlite_busy_timeout_s},
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        _configure_sqlite(engine, sqlite_busy_timeout_s)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded attributes after commit (responses are built after it)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
