"""Run the Alembic migrations shipped inside the package (`upgrade head` at start-up)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text

from sotmeasure.store.job_queue import is_queue_table

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine) -> Config:
    """An Alembic config that needs no alembic.ini: the scripts are package data."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


#: PostgreSQL advisory lock key held while migrating ("sotm" in ASCII).
_MIGRATION_LOCK_KEY = 0x736F746D


def upgrade_head(engine: Engine) -> None:
    """Bring the database schema to the newest revision (no-op when it already is).

    On PostgreSQL an advisory lock serialises the upgrade: a server and several
    `sotmeasure worker` processes starting at once on a new database migrate one at a
    time (the later ones find it at head), instead of racing to create the same tables.
    """
    if engine.dialect.name != "postgresql":
        command.upgrade(alembic_config(engine), "head")
        return
    with engine.connect() as lock_connection:
        lock_connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        lock_connection.commit()
        try:
            command.upgrade(alembic_config(engine), "head")
        finally:
            lock_connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK_KEY}
            )
            lock_connection.commit()


def include_in_autogenerate(name: str | None, type_: str, _parent_names: object) -> bool:
    """Alembic's comparison covers sotmeasure's tables, not the job queue's own."""
    return not (type_ == "table" and is_queue_table(name))


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None = never migrated)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision shipped with this version of sotmeasure."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()
