"""Rig checks per setup, and assisted (practitioner-placed) landmarks per measurement.

Revision ID: 0002_rig_assisted
Revises: 0001
Create Date: 2026-12-06 20:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_rig_assisted"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rig_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=True),
        sa.Column("setup_key", sa.String(length=100), nullable=False),
        sa.Column("setup_version", sa.Integer(), nullable=True),
        sa.Column("setup_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("video_name", sa.String(length=255), nullable=True),
        sa.Column("video_sha256", sa.String(length=64), nullable=False),
        sa.Column("heel_height_mm", sa.Float(), nullable=True),
        sa.Column("heel_error_mm", sa.Float(), nullable=True),
        sa.Column("heel_ci95_low_mm", sa.Float(), nullable=True),
        sa.Column("heel_ci95_high_mm", sa.Float(), nullable=True),
        sa.Column("hip_height_mm", sa.Float(), nullable=True),
        sa.Column("hip_error_mm", sa.Float(), nullable=True),
        sa.Column("hip_ci95_low_mm", sa.Float(), nullable=True),
        sa.Column("hip_ci95_high_mm", sa.Float(), nullable=True),
        sa.Column("tolerance_mm", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_rig_checks_clinic_id_clinics"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_rig_checks_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rig_checks")),
    )
    op.create_index(op.f("ix_rig_checks_clinic_id"), "rig_checks", ["clinic_id"], unique=False)
    op.create_index(
        "ix_rig_checks_setup", "rig_checks", ["clinic_id", "setup_key", "created_at"], unique=False
    )
    op.create_table(
        "assisted_landmarks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("measurement_id", sa.Integer(), nullable=False),
        sa.Column("frame_index", sa.Integer(), nullable=False),
        sa.Column("points_px", sa.JSON(), nullable=False),
        sa.Column("lld_mm", sa.Float(), nullable=False),
        sa.Column("lld_ci95_low_mm", sa.Float(), nullable=False),
        sa.Column("lld_ci95_high_mm", sa.Float(), nullable=False),
        sa.Column("short_side", sa.String(length=10), nullable=False),
        sa.Column("pelvic_tilt_deg", sa.Float(), nullable=False),
        sa.Column("pelvic_tilt_ci95_low_deg", sa.Float(), nullable=False),
        sa.Column("pelvic_tilt_ci95_high_deg", sa.Float(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("placed_by_id", sa.Integer(), nullable=True),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["measurement_id"],
            ["measurements.id"],
            name=op.f("fk_assisted_landmarks_measurement_id_measurements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["placed_by_id"],
            ["users.id"],
            name=op.f("fk_assisted_landmarks_placed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assisted_landmarks")),
    )
    op.create_index(
        op.f("ix_assisted_landmarks_measurement_id"),
        "assisted_landmarks",
        ["measurement_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_assisted_landmarks_measurement_id"), table_name="assisted_landmarks")
    op.drop_table("assisted_landmarks")
    op.drop_index("ix_rig_checks_setup", table_name="rig_checks")
    op.drop_index(op.f("ix_rig_checks_clinic_id"), table_name="rig_checks")
    op.drop_table("rig_checks")
