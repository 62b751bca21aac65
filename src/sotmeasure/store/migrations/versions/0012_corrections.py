"""Corrections and mode per measurement: soft delete, relabel, the mode a row was measured in.

Revision ID: 0012_corrections
Revises: 0011_privacy
Create Date: 2026-12-06 19:55:00

Old rows stay valid: every new column is nullable. A finished row's `mode` is filled from
its stored result (the result has always said its mode); an unfinished old row keeps NULL
and is measured in the installation's default mode, as before.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0012_corrections"
down_revision = "0011_privacy"
branch_labels = None
depends_on = None

_MODES = ("markerless", "stickers")


def _result_mode(value: Any) -> str | None:
    """The mode a stored result JSON names, when it names a known one."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    mode = value.get("mode") if isinstance(value, dict) else None
    return mode if mode in _MODES else None


def upgrade() -> None:
    with op.batch_alter_table("measurements") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("deleted_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("phase_changed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("phase_changed_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("measured_phase", sa.String(length=8), nullable=True))
        batch.create_foreign_key(
            op.f("fk_measurements_deleted_by_id_users"),
            "users",
            ["deleted_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_foreign_key(
            op.f("fk_measurements_phase_changed_by_id_users"),
            "users",
            ["phase_changed_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_check_constraint(
            op.f("ck_measurements_mode"),
            "mode IS NULL OR mode IN ('markerless', 'stickers')",
        )
    measurements = sa.table(
        "measurements", sa.column("id", sa.Integer), sa.column("result", sa.JSON)
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(measurements.c.id, measurements.c.result).where(
            measurements.c.result.is_not(None)
        )
    ).all()
    for row_id, result in rows:
        mode = _result_mode(result)
        if mode is not None:
            connection.execute(
                sa.text("UPDATE measurements SET mode = :mode WHERE id = :id"),
                {"mode": mode, "id": row_id},
            )


def downgrade() -> None:
    with op.batch_alter_table("measurements") as batch:
        batch.drop_constraint(op.f("ck_measurements_mode"), type_="check")
        batch.drop_constraint(op.f("fk_measurements_phase_changed_by_id_users"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_measurements_deleted_by_id_users"), type_="foreignkey")
        batch.drop_column("measured_phase")
        batch.drop_column("phase_changed_by_id")
        batch.drop_column("phase_changed_at")
        batch.drop_column("deleted_by_id")
        batch.drop_column("deleted_at")
        batch.drop_column("mode")
