"""Migration 0012_corrections on a database with rows from before it (SQLite and
PostgreSQL): old measurements stay valid, a finished row gets the mode its stored result
names, and nothing is marked deleted or relabelled."""

from __future__ import annotations

import json

from alembic import command
from sqlalchemy import Engine, text

from sotmeasure.store.migrate import alembic_config, upgrade_head

BEFORE = "0011_privacy"


def test_old_rows_upgrade_with_the_mode_of_their_result(engine: Engine) -> None:
    command.upgrade(alembic_config(engine), BEFORE)
    now = "2026-11-30 10:00:00+00:00"
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO clinics (id, name, created_at) VALUES (1, 'C', :t)"), {"t": now}
        )
        conn.execute(
            text("INSERT INTO patients (id, clinic_id, code, created_at) VALUES (1, 1, 'P', :t)"),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO visits (id, patient_id, visit_date, created_at) "
                "VALUES (1, 1, '2026-11-30', :t)"
            ),
            {"t": now},
        )
        for row_id, status, result in (
            (1, "done", json.dumps({"mode": "stickers", "lld_mm": 2.0})),
            (2, "done", json.dumps({"lld_mm": 1.0})),  # an import that did not say
            (3, "pending", None),
        ):
            conn.execute(
                text(
                    "INSERT INTO measurements (id, visit_id, phase, source, status, progress, "
                    "attempts, created_at, result) VALUES (:id, 1, 'pre', 'import', :s, 0, 0, "
                    ":t, :r)"
                ),
                {"id": row_id, "s": status, "t": now, "r": result},
            )
    upgrade_head(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, mode, deleted_at, measured_phase, phase FROM measurements ORDER BY id")
        ).all()
    assert [(r.id, r.mode) for r in rows] == [(1, "stickers"), (2, None), (3, None)]
    assert all(r.deleted_at is None and r.measured_phase is None for r in rows)
    assert [r.phase for r in rows] == ["pre", "pre", "pre"]
