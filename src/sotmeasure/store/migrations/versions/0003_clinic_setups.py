"""Setups per clinic and room, in versions; visits choose one, measurements record theirs.

Revision ID: 0003_clinic_setups
Revises: 0002_rig_assisted
Create Date: 2026-12-06 19:50:00

Old rows stay valid: `visits.setup_id` and `measurements.setup_version_id` are nullable, and
NULL means what it meant before setups existed: the installation setup of the settings file.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_clinic_setups"
down_revision = "0002_rig_assisted"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "setups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("room", sa.String(length=200), nullable=True),
        sa.Column("camera", sa.String(length=200), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_setups_clinic_id_clinics"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_setups_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setups")),
        sa.UniqueConstraint("clinic_id", "name", name="uq_setups_clinic_name"),
    )
    op.create_index(op.f("ix_setups_clinic_id"), "setups", ["clinic_id"], unique=False)
    op.create_table(
        "setup_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("setup_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("layout_name", sa.String(length=200), nullable=False),
        sa.Column("layout_json", sa.Text(), nullable=False),
        sa.Column("profile_name", sa.String(length=200), nullable=True),
        sa.Column("profile_toml", sa.Text(), nullable=True),
        sa.Column("calibration_report", sa.JSON(), nullable=True),
        sa.Column("plane_uncertainty_mm", sa.Float(), nullable=False),
        sa.Column("markerless_heel_plane_mm", sa.Float(), nullable=False),
        sa.Column("markerless_hip_plane_mm", sa.Float(), nullable=False),
        sa.Column("stickers_heel_plane_mm", sa.Float(), nullable=False),
        sa.Column("stickers_hip_plane_mm", sa.Float(), nullable=False),
        sa.Column("heel_sticker_rgb", sa.String(length=7), nullable=False),
        sa.Column("psis_sticker_rgb", sa.String(length=7), nullable=False),
        sa.Column("mdc95_lld_mm", sa.Float(), nullable=True),
        sa.Column("mdc95_tilt_deg", sa.Float(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_setup_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["setup_id"],
            ["setups.id"],
            name=op.f("fk_setup_versions_setup_id_setups"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_setup_versions")),
        sa.UniqueConstraint("setup_id", "version", name="uq_setup_versions_setup_version"),
    )
    op.create_index(
        op.f("ix_setup_versions_setup_id"), "setup_versions", ["setup_id"], unique=False
    )
    with op.batch_alter_table("visits") as batch:
        batch.add_column(sa.Column("setup_id", sa.Integer(), nullable=True))
        batch.create_index(batch.f("ix_visits_setup_id"), ["setup_id"], unique=False)
        batch.create_foreign_key(
            batch.f("fk_visits_setup_id_setups"),
            "setups",
            ["setup_id"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("measurements") as batch:
        batch.add_column(sa.Column("setup_version_id", sa.Integer(), nullable=True))
        batch.create_index(
            batch.f("ix_measurements_setup_version_id"), ["setup_version_id"], unique=False
        )
        batch.create_foreign_key(
            batch.f("fk_measurements_setup_version_id_setup_versions"),
            "setup_versions",
            ["setup_version_id"],
            ["id"],
            ondelete="RESTRICT",
        )


def downgrade() -> None:
    with op.batch_alter_table("measurements") as batch:
        batch.drop_constraint(
            batch.f("fk_measurements_setup_version_id_setup_versions"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_measurements_setup_version_id"))
        batch.drop_column("setup_version_id")
    with op.batch_alter_table("visits") as batch:
        batch.drop_constraint(batch.f("fk_visits_setup_id_setups"), type_="foreignkey")
        batch.drop_index(batch.f("ix_visits_setup_id"))
        batch.drop_column("setup_id")
    op.drop_index(op.f("ix_setup_versions_setup_id"), table_name="setup_versions")
    op.drop_table("setup_versions")
    op.drop_index(op.f("ix_setups_clinic_id"), table_name="setups")
    op.drop_table("setups")
