"""Alembic environment: uses the Engine passed in by sotmeasure.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine

from sotmeasure.store.migrate import include_in_autogenerate
from sotmeasure.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    """Migrate through the caller's engine (no URL in an ini file, no global state)."""
    engine = config.attributes.get("engine")
    if not isinstance(engine, Engine):
        raise RuntimeError("run migrations through sotmeasure.store.migrate (no engine given)")
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # A batch migration rebuilds a table (copy, drop, rename); with foreign keys on,
            # dropping a referenced table would fire ON DELETE actions on the rows that
            # point at it. SQLite ignores this pragma inside a transaction, so it is set on
            # the driver connection before one begins, and every key is checked afterwards.
            _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=sqlite,
                compare_type=True,
                include_name=include_in_autogenerate,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration broke foreign keys: {broken[:5]}")
            connection.commit()
        except BaseException:
            if sqlite:  # never hand a connection with foreign keys off back to the pool
                connection.invalidate()
            raise
        if sqlite:
            _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(connection: Connection, pragma: str) -> None:
    """Run a pragma on the driver connection, outside SQLAlchemy's transaction."""
    driver = connection.connection.driver_connection
    assert driver is not None
    driver.execute(pragma)


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
