"""Alembic environment: uses the Engine passed in by sotmeasure.store.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

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
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            include_name=include_in_autogenerate,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
