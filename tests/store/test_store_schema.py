"""The schema as the migrations build it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from sotmeasure.store.accounts import (
    authenticate,
    create_user,
    get_or_create_clinic,
    issue_token,
    user_for_token,
)
from sotmeasure.store.engine import make_session_factory
from sotmeasure.store.migrate import (
    alembic_config,
    current_revision,
    head_revision,
    include_in_autogenerate,
    upgrade_head,
)
from sotmeasure.store.models import (
    AuthToken,
    Base,
    Clinic,
    Measurement,
    Patient,
    RecordingLink,
    Role,
    User,
    Visit,
)


def test_migrations_build_exactly_the_models(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade_head(engine)
    upgrade_head(engine)  # idempotent: a restart migrates nothing
    assert current_revision(engine) == head_revision() is not None
    with engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(
                connection,
                opts={"compare_type": True, "include_name": include_in_autogenerate},
            ),
            Base.metadata,
        )
    assert diff == []
    tables = set(inspect(engine).get_table_names())
    assert {
        "clinics",
        "users",
        "auth_tokens",
        "patients",
        "visits",
        "recordings",
        "measurements",
    } <= tables


def test_downgrade_to_nothing_and_back(engine: Engine) -> None:
    upgrade_head(engine)
    command.downgrade(alembic_config(engine), "base")
    assert not set(inspect(engine).get_table_names()) - {"alembic_version"}  # queue's too
    upgrade_head(engine)
    assert "measurements" in inspect(engine).get_table_names()


def test_foreign_keys_and_checks_are_enforced(engine: Engine) -> None:
    upgrade_head(engine)
    sessions = make_session_factory(engine)
    with sessions() as session, pytest.raises(IntegrityError):
        session.add(Visit(patient_id=424242, visit_date=date(2026, 1, 1)))
        session.commit()
    with sessions() as session:
        clinic = get_or_create_clinic(session, "C")
        patient = Patient(clinic_id=clinic.id, code="X1")
        session.add(patient)
        session.flush()
        visit = Visit(patient_id=patient.id, visit_date=date(2026, 1, 1))
        session.add(visit)
        session.commit()
        visit_id = visit.id
    with sessions() as session, pytest.raises(IntegrityError):
        session.add(Measurement(visit_id=visit_id, phase="during", source="import"))
        session.commit()
    with sessions() as session, pytest.raises(IntegrityError):
        session.add(Measurement(visit_id=visit_id, phase="pre", source="import", status="lost"))
        session.commit()
    with sessions() as session, pytest.raises(IntegrityError):
        session.add(Patient(clinic_id=clinic.id, code="X1"))  # code unique per clinic
        session.commit()
    with sessions() as session:  # deleting a patient removes its visits (ON DELETE CASCADE)
        session.execute(text("DELETE FROM patients"))
        session.commit()
        assert session.scalar(select(Visit.id)) is None


def test_sqlite_runs_in_wal_with_foreign_keys(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("SQLite pragmas only")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 15000


def test_times_are_stored_and_returned_in_utc(engine: Engine) -> None:
    upgrade_head(engine)
    sessions = make_session_factory(engine)
    plus_two = timezone(timedelta(hours=2))
    with sessions() as session:
        clinic = Clinic(name="T", created_at=datetime(2026, 3, 1, 12, 0, tzinfo=plus_two))
        session.add(clinic)
        session.commit()
    with sessions() as session:
        stored = session.scalar(select(Clinic.created_at))
        assert stored == datetime(2026, 3, 1, 10, 0, tzinfo=UTC) and stored.tzinfo is not None
    with sessions() as session, pytest.raises(StatementError, match="naive"):
        session.add(Clinic(name="N", created_at=datetime(2026, 3, 1, 12, 0)))
        session.commit()


def test_passwords_hashed_and_tokens_stored_as_digests(engine: Engine) -> None:
    upgrade_head(engine)
    sessions = make_session_factory(engine)
    with sessions() as session:
        user = create_user(
            session,
            email=" Pat@Example.org ",
            password="a-long-secret",
            role=Role.ADMIN,
            clinic=None,
        )
        token, expires_at = issue_token(session, user, timedelta(minutes=5))
        session.commit()
    with sessions() as session:
        row = session.scalar(select(User))
        assert row is not None and row.email == "pat@example.org"
        assert (
            row.password_hash.startswith("$argon2id$") and "a-long-secret" not in row.password_hash
        )
        stored = session.scalar(select(AuthToken.token_sha256))
        assert stored is not None and token not in stored and len(stored) == 64
        assert authenticate(session, "PAT@example.org", "a-long-secret") is not None
        assert authenticate(session, "pat@example.org", "a-long-secreT") is None
        found = user_for_token(session, token)
        assert found is not None and found.id == row.id
        assert user_for_token(session, token + "x") is None
        assert expires_at > datetime.now(UTC)


def test_existing_recordings_get_one_link_per_clinic_on_upgrade(engine: Engine) -> None:
    """0001 -> 0011_privacy: the shared row's file name goes to the clinic that stored it
    first; every clinic using the bytes keeps its own link (uploader, time)."""
    command.upgrade(alembic_config(engine), "0001")
    with engine.begin() as conn:
        for sql in (
            "INSERT INTO clinics (id, name, created_at) VALUES "
            "(1, 'A', '2026-01-01 00:00:00'), (2, 'B', '2026-01-01 00:00:00')",
            "INSERT INTO users (id, email, password_hash, role, clinic_id, active, created_at) "
            "VALUES (1, 'a@x', 'h', 'practitioner', 1, TRUE, '2026-01-01 00:00:00'), "
            "(2, 'b@x', 'h', 'practitioner', 2, TRUE, '2026-01-01 00:00:00')",
            "INSERT INTO patients (id, clinic_id, code, created_at) VALUES "
            "(1, 1, 'PA', '2026-01-01 00:00:00'), (2, 2, 'PB', '2026-01-01 00:00:00')",
            "INSERT INTO visits (id, patient_id, visit_date, created_at) VALUES "
            "(1, 1, '2026-01-02', '2026-01-02 00:00:00'), "
            "(2, 2, '2026-01-03', '2026-01-03 00:00:00')",
            "INSERT INTO recordings (id, sha256, kind, stored_name, size_bytes, media, source, "
            "client_filename, created_by_id, created_at) VALUES (1, 'ab', 'video', 'ab.mp4', 3, "
            "'{}', 'upload', 'a_name.mp4', 1, '2026-01-02 00:00:00')",
            "INSERT INTO measurements (id, visit_id, recording_id, phase, source, status, "
            "progress, attempts, created_by_id, created_at) VALUES "
            "(1, 1, 1, 'pre', 'upload', 'pending', 0, 0, 1, '2026-01-02 00:00:00'), "
            "(2, 2, 1, 'pre', 'upload', 'pending', 0, 0, 2, '2026-01-03 00:00:00'), "
            "(3, 1, 1, 'post', 'upload', 'pending', 0, 0, 1, '2026-01-04 00:00:00')",
        ):
            conn.execute(text(sql))
    upgrade_head(engine)
    with make_session_factory(engine)() as session:
        links = {
            link.clinic_id: (link.client_filename, link.uploaded_by_id, link.uploaded_at.day)
            for link in session.scalars(select(RecordingLink))
        }
    assert links == {1: ("a_name.mp4", 1, 2), 2: (None, 2, 3)}
    command.downgrade(alembic_config(engine), "0001")
    with engine.connect() as conn:
        row = conn.execute(text("SELECT client_filename, created_by_id FROM recordings")).one()
    assert tuple(row) == ("a_name.mp4", 1)
