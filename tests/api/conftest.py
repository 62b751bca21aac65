"""Service test fixtures: a real database (SQLite file, and PostgreSQL where it runs), a real
app per test through TestClient, and a small world of clinics, users and tokens.

Every test that takes `db_url` runs twice: on a SQLite file in tmp_path and on a fresh
PostgreSQL database (created with a unique name, dropped afterwards). Where PostgreSQL is
not reachable, the PostgreSQL half is skipped with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from api_helpers import World, bearer_headers, seed_users
from fastapi.testclient import TestClient

from sotmeasure.app import create_app
from sotmeasure.settings import Settings

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(PG_ADMIN_DSN, autocommit=True)


@pytest.fixture(scope="session")
def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        with _pg_admin() as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to connect means: skip, and say why
        return f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(exc).__name__}: {exc})"
    return None


@pytest.fixture(scope="session")
def postgres_template(postgres_available: str | None) -> Iterator[str | None]:
    """A PostgreSQL database migrated to head once per session, copied for every test.

    Why: running the migrations costs 0.5-1.5 s a database; CREATE DATABASE ... TEMPLATE
    copies the migrated schema for about the price of an empty database. The app's own
    start-up migration then finds the schema at head (a no-op), so what the tests see is
    exactly what a migrated production database holds.
    """
    if postgres_available:
        yield None
        return
    from sqlalchemy import create_engine

    from sotmeasure.store.migrate import upgrade_head

    name = f"sotm_tmpl_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = create_engine(PG_URL.format(name=name))
    try:
        upgrade_head(engine)
    finally:
        engine.dispose()  # a template must have no open connection when it is copied
    try:
        yield name
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_available: str | None
) -> Iterator[str]:
    """A URL of a database of each kind: an empty SQLite file (the app migrates it), a
    PostgreSQL database copied from the session's migrated template."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    if postgres_available:
        pytest.skip(postgres_available)
    template = request.getfixturevalue("postgres_template")
    name = f"sotm_test_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield PG_URL.format(name=name)
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def make_settings(db_url: str, data_dir: Path) -> Callable[..., Settings]:
    """Settings on the test database; no worker threads unless a test asks for them."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "database_url": db_url,
            "processing_workers": 0,
            "poll_interval_s": 0.2,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def world(client: TestClient, settings: Settings) -> World:
    """Clinics A and B; admin, practitioner of A, of B, and a researcher, all logged in."""
    ids = seed_users(settings)
    headers = bearer_headers(settings, ids)
    users = {k: v for k, v in ids.items() if not k.startswith("clinic")}
    return World(ids["clinic_a"], ids["clinic_b"], users, headers)


@pytest.fixture
def world_factory() -> Iterator[Callable[[Settings], tuple[TestClient, World]]]:
    """Build an app with particular settings, seed the world, log everyone in."""
    stack = ExitStack()

    def build(custom: Settings) -> tuple[TestClient, World]:
        test_client = stack.enter_context(TestClient(create_app(custom)))
        ids = seed_users(custom)
        headers = bearer_headers(custom, ids)
        users = {k: v for k, v in ids.items() if not k.startswith("clinic")}
        return test_client, World(ids["clinic_a"], ids["clinic_b"], users, headers)

    with stack:
        yield build
