"""CLI commands for the service: `serve`, `worker`, `users create|list|passwd|deactivate|activate`,
`clinics list|rename|merge|delete`, `db upgrade`. The rules are `services.accounts`, the
same the API and the admin page apply.

Settings come from the environment (`SOTMEASURE_*`, see sotmeasure.settings); with none
set, everything lives in the user data directory (SQLite + recordings).
"""

from __future__ import annotations

import contextlib
import gc
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
clinics_app = typer.Typer(
    help="Manage clinics (names are compared ignoring letter case).", no_args_is_help=True
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
    app = create_app(settings)
    _freeze_startup_objects()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=log_level.lower(),
        workers=1,  # background work scales with `sotmeasure worker`, not HTTP processes
        # Open live previews (endless MJPEG streams) must not hold a Ctrl+C shutdown forever.
        timeout_graceful_shutdown=5,
    )


def _freeze_startup_objects() -> None:
    """Keep what start-up made (the imported modules and the app: ~190 000 objects that
    live as long as the server) out of the garbage collector's full passes.

    A full pass walks every tracked object with the GIL held, so every request stops for
    it: ~0.1 s of CPU here, several times a minute under load (each time enough new
    objects have survived), which showed up in the p99 of issue 13 (docs/reliability.md).
    Frozen objects are only never collected, and all of them are alive at this point.
    """
    gc.collect()
    gc.freeze()


def worker(
    concurrency: Annotated[
        int,
        typer.Option(
            min=1,
            help="Measurements at once in this process (each uses about one core); "
            "run one worker process per core, on this or other machines.",
        ),
    ] = 1,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Process queued measurements (PostgreSQL) until stopped with Ctrl+C or SIGTERM.

    Needs the server's SOTMEASURE_DATABASE_URL and SOTMEASURE_DATA_DIR (the recordings) and
    its setup paths. A worker killed mid-measurement loses nothing: after
    SOTMEASURE_QUEUE_STALLED_AFTER_S another worker runs it again.
    """
    from sqlalchemy.exc import OperationalError

    from sotmeasure.services import context as service
    from sotmeasure.settings import Settings
    from sotmeasure.store.migrate import upgrade_head

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # procrastinate logs every job at INFO, the maintenance pass every 5 s among them;
        # the worker's own lines say which measurement it processes and how it ended.
        logging.getLogger("procrastinate").setLevel(logging.WARNING)
    settings = Settings()
    ctx = service.build_context(settings)
    try:
        if not service.uses_queue(ctx):
            fail(
                "sotmeasure worker needs PostgreSQL (SOTMEASURE_DATABASE_URL="
                "postgresql+psycopg://...); with SQLite, `sotmeasure serve` measures uploads "
                "itself (SOTMEASURE_PROCESSING_WORKERS)"
            )
        where = ctx.engine.url.render_as_string(hide_password=True)
        try:
            upgrade_head(ctx.engine)
        except OperationalError as exc:
            fail(f"cannot reach the database {where}: {str(exc.orig).strip().splitlines()[0]}")
        err_console.print(
            f"sotmeasure worker: {concurrency} at a time from {where} "
            f"(data in {settings.data_dir})",
            markup=False,
            highlight=False,
        )
        try:
            service.queue_workers(ctx, concurrency=concurrency, handle_signals=True).run()
        except Exception as exc:  # the database went away, ...: logged in full above
            logging.getLogger(__name__).exception("the worker stopped")
            fail(f"the worker stopped: {type(exc).__name__}: {exc}")
    finally:
        ctx.engine.dispose()


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
    """Create a user account (e.g. the first admin).

    --clinic finds an existing clinic ignoring letter case ("my clinic" is "My Clinic") and
    says which one it used, or that it created a new one.
    """
    from sotmeasure.services.accounts import add_user, clinic_for_name
    from sotmeasure.store.engine import make_session_factory
    from sotmeasure.store.models import Role

    try:
        role_value = Role(role.lower())
    except ValueError:
        fail(f"unknown role {role!r}: use admin, practitioner or researcher")
    password = _read_password(password_stdin)
    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        match = clinic_for_name(session, clinic) if clinic else None
        user = add_user(
            session,
            email=email,
            password=password,
            role=role_value,
            clinic_id=match.clinic.id if match else None,
            full_name=full_name,
        )
        if match is not None:
            _say(match.sentence())
        where = f" in clinic {match.clinic.name!r}" if match else ""
        _say(f"created {user.role} {user.email} (id {user.id}){where}")


def _say(line: str) -> None:
    console.print(line, markup=False, highlight=False)


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


@users_app.command("passwd")
def users_passwd(
    email: Annotated[str, typer.Option(help="The user's login e-mail address.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
) -> None:
    """Set a user's password (the terminal's operator needs no current password); every
    token and page session of the user is revoked."""
    from sotmeasure.services.accounts import reset_password, user_by_email
    from sotmeasure.store.engine import make_session_factory

    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        user = user_by_email(session, email)
        reset_password(session, None, user.id, _read_password(password_stdin))
        _say(f"password of {user.email} changed; their sessions were logged out")


def _set_active(email: str, active: bool) -> None:
    from sotmeasure.services.accounts import set_active, user_by_email
    from sotmeasure.store.engine import make_session_factory

    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        user = user_by_email(session, email)
        set_active(session, None, user.id, active)
        state = "active again" if active else "deactivated (their sessions were logged out)"
        _say(f"{user.email} is {state}")


@users_app.command("deactivate")
def users_deactivate(
    email: Annotated[str, typer.Option(help="The user's login e-mail address.")],
) -> None:
    """Deactivate a user: they can no longer log in; their records stay."""
    _set_active(email, False)


@users_app.command("activate")
def users_activate(
    email: Annotated[str, typer.Option(help="The user's login e-mail address.")],
) -> None:
    """Let a deactivated user log in again."""
    _set_active(email, True)


@clinics_app.command("list")
def clinics_list() -> None:
    """List clinics (id, name, users, patients)."""
    from sotmeasure.services.accounts import list_clinics
    from sotmeasure.store.engine import make_session_factory

    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        for s in list_clinics(session):
            other = "".join(f"\t{n} {table}" for table, n in sorted(s.other.items()))
            _say(f"{s.clinic.id}\t{s.clinic.name}\t{s.users} users\t{s.patients} patients{other}")


ClinicRef = Annotated[str, typer.Argument(help="Clinic id or name (letter case ignored).")]


@clinics_app.command("rename")
def clinics_rename(
    clinic: ClinicRef,
    new_name: Annotated[str, typer.Argument(help="The new name.")],
) -> None:
    """Rename a clinic (refused when another clinic has that name, ignoring case)."""
    from sotmeasure.services.accounts import clinic_by_name_or_id, rename_clinic
    from sotmeasure.store.engine import make_session_factory

    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        row = clinic_by_name_or_id(session, clinic)
        old = row.name
        renamed = rename_clinic(session, row.id, new_name)
        _say(f"clinic {renamed.id} renamed from {old!r} to {renamed.name!r}")


@clinics_app.command("merge")
def clinics_merge(
    clinic: ClinicRef,
    into: Annotated[str, typer.Option(help="Clinic id or name that receives its users.")],
) -> None:
    """Merge an empty clinic (no patients) into another: its users move, it is deleted."""
    from sotmeasure.services.accounts import clinic_by_name_or_id, merge_clinic
    from sotmeasure.store.engine import make_session_factory

    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        source, target = clinic_by_name_or_id(session, clinic), clinic_by_name_or_id(session, into)
        names = (source.name, target.name)
        moved = merge_clinic(session, source.id, target.id)
        _say(f"clinic {names[0]!r} merged into {names[1]!r} ({moved} user(s) moved)")


@clinics_app.command("delete")
def clinics_delete(clinic: ClinicRef) -> None:
    """Delete a clinic without users or patients."""
    from sotmeasure.services.accounts import clinic_by_name_or_id, delete_clinic
    from sotmeasure.store.engine import make_session_factory

    with _migrated_engine() as engine, make_session_factory(engine)() as session:
        row = clinic_by_name_or_id(session, clinic)
        name = row.name
        delete_clinic(session, row.id)
        _say(f"clinic {name!r} deleted")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema (the server also does this at start)."""
    from sotmeasure.store.migrate import current_revision

    with _migrated_engine() as engine:
        _say(f"database at revision {current_revision(engine)}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(users_app, name="users")
    app.add_typer(clinics_app, name="clinics")
    app.add_typer(db_app, name="db")
