"""CLI commands for the service: `serve`, `users create|list`, `db upgrade`.

Settings come from the environment (`SOTMEASURE_*`, see sotmeasure.settings); with none
set, everything lives in the user data directory (SQLite + recordings).
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from sotmeasure.cli.common import console, err_console, fail

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

users_app = typer.Typer(
    help="Manage user accounts (the first admin is created here).", no_args_is_help=True
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the HTTP service (API and web pages) with the settings from SOTMEASURE_*."""
    import uvicorn

    from sotmeasure.app import create_app
    from sotmeasure.settings import Settings

    settings = Settings()
    if host is not None:
        settings = settings.model_copy(update={"host": host})
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    err_console.print(
        f"sotmeasure: serving on http://{settings.host}:{settings.port} "
        f"(data in {settings.data_dir})",
        markup=False,
        highlight=False,
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level.lower(),
        workers=1,  # one process per database: see sotmeasure.jobs.worker
        # Open live previews (endless MJPEG streams) must not hold a Ctrl+C shutdown forever.
        timeout_graceful_shutdown=5,
    )


@contextlib.contextmanager
def _migrated_engine() -> Iterator[Engine]:
    """An engine on the configured database, migrated to head, disposed afterwards.

    Why: every maintenance command must see the same schema the server would (the server
    migrates at start), so a fresh install can create its first admin before serving.
    """
    from sotmeasure.settings import Settings
    from sotmeasure.store.engine import make_engine
    from sotmeasure.store.migrate import upgrade_head

    settings = Settings()
    settings.ensure_dirs()
    engine = make_engine(settings.effective_database_url)
    try:
        upgrade_head(engine)
        yield engine
    finally:
        engine.dispose()


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on standard input")
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Login e-mail address.")],
    role: Annotated[str, typer.Option(help="admin, practitioner or researcher.")],
    clinic: Annotated[
        str | None, typer.Option(help="Clinic name (created when new); practitioners need one.")
    ] = None,
    full_name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
) -> None:
    """Create a user account (e.g. the first admin)."""
    from sotmeasure.store.accounts import create_user, get_or_create_clinic
    from sotmeasure.store.engine import make_session_factory
    from sotmeasure.store.models import Role

    try:
        role_value = Role(role.lower())
    except ValueError:
        fail(f"unknown role {role!r}: use admin, practitioner or researcher")
    password = _read_password(password_stdin)
    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        clinic_row = get_or_create_clinic(session, clinic) if clinic else None
        user = create_user(
            session,
            email=email,
            password=password,
            role=role_value,
            clinic=clinic_row,
            full_name=full_name,
        )
        session.commit()
        where = f" in clinic {clinic_row.name!r}" if clinic_row else ""
        console.print(
            f"created {user.role} {user.email} (id {user.id}){where}",
            markup=False,
            highlight=False,
        )


@users_app.command("list")
def users_list() -> None:
    """List user accounts (id, e-mail, role, clinic, active)."""
    from sqlalchemy import select

    from sotmeasure.store.engine import make_session_factory
    from sotmeasure.store.models import Clinic, User

    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        rows = session.execute(
            select(User, Clinic).outerjoin(Clinic, Clinic.id == User.clinic_id).order_by(User.id)
        )
        for user, clinic_row in rows:
            console.print(
                f"{user.id}\t{user.email}\t{user.role}\t"
                f"{clinic_row.name if clinic_row else '-'}\t"
                f"{'active' if user.active else 'inactive'}",
                markup=False,
                highlight=False,
            )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (the server also does this at start)."""
    from sotmeasure.store.migrate import current_revision

    with _migrated_engine() as engine:
        console.print(
            f"database at revision {current_revision(engine)}", markup=False, highlight=False
        )


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
    app.add_typer(db_app, name="db")
