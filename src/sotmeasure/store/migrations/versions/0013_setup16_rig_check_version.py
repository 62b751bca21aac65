"""Rig checks name the setup version they checked (`rig_checks.setup_version_id`).

Revision ID: 0013_setup16_rig_check_version
Revises: 0012_corrections
Create Date: 2026-12-06 23:10:00

Old rows stay valid: the column is nullable, and NULL means what it meant before: a check of
the installation setup of the settings file (`setup_key` "installation"). A check of a
clinic's setup points at the version it measured, so a new version needs its own check.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_setup16_rig_check_version"
down_revision = "0012_corrections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rig_checks") as batch:
        batch.add_column(sa.Column("setup_version_id", sa.Integer(), nullable=True))
        batch.create_index(
            batch.f("ix_rig_checks_setup_version_id"), ["setup_version_id"], unique=False
        )
        batch.create_foreign_key(
            batch.f("fk_rig_checks_setup_version_id_setup_versions"),
            "setup_versions",
            ["setup_version_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("rig_checks") as batch:
        batch.drop_constraint(
            batch.f("fk_rig_checks_setup_version_id_setup_versions"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_rig_checks_setup_version_id"))
        batch.drop_column("setup_version_id")
