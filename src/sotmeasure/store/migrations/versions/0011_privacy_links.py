"""Privacy: per-clinic recording links, the audit log, research studies (issue 13 rows 6, 8, 9).

The client's file name and the uploader move from the shared `recordings` row to one
`recording_links` row per clinic that uses the bytes. Existing databases keep their data:
every clinic whose measurements use a recording gets a link (uploader and time of its
first measurement of it); the old file name goes to the clinic that used the bytes first
(the only one that can have uploaded it under that name).

Revision ID: 0011_privacy
Revises: 0010_job_queue
Create Date: 2026-12-06 19:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_privacy"
down_revision = "0010_job_queue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recording_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("clinic_id", sa.Integer(), nullable=False),
        sa.Column("client_filename", sa.String(length=255), nullable=True),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recordings.id"],
            name=op.f("fk_recording_links_recording_id_recordings"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["clinic_id"],
            ["clinics.id"],
            name=op.f("fk_recording_links_clinic_id_clinics"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_recording_links_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recording_links")),
        sa.UniqueConstraint(
            "recording_id", "clinic_id", name="uq_recording_links_recording_clinic"
        ),
    )
    op.create_index(
        op.f("ix_recording_links_recording_id"), "recording_links", ["recording_id"], unique=False
    )
    op.create_index(
        op.f("ix_recording_links_clinic_id"), "recording_links", ["clinic_id"], unique=False
    )
    _copy_links()
    with op.batch_alter_table("recordings") as batch:
        batch.drop_constraint("fk_recordings_created_by_id_users", type_="foreignkey")
        batch.drop_column("created_by_id")
        batch.drop_column("client_filename")

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target_kind", sa.String(length=40), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_table(
        "research_studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("secret_hex", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_research_studies_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_research_studies")),
        sa.UniqueConstraint("name", name=op.f("uq_research_studies_name")),
    )


def _copy_links() -> None:
    """One link per (recording, clinic) that existing measurements use, in portable SQL."""
    op.execute(
        "INSERT INTO recording_links (recording_id, clinic_id, uploaded_by_id, uploaded_at) "
        "SELECT m.recording_id, p.clinic_id, m.created_by_id, m.created_at "
        "FROM measurements m JOIN visits v ON v.id = m.visit_id "
        "JOIN patients p ON p.id = v.patient_id "
        "WHERE m.id = (SELECT MIN(m2.id) FROM measurements m2 "
        "JOIN visits v2 ON v2.id = m2.visit_id JOIN patients p2 ON p2.id = v2.patient_id "
        "WHERE m2.recording_id = m.recording_id AND p2.clinic_id = p.clinic_id)"
    )
    op.execute(
        "UPDATE recording_links SET client_filename = (SELECT r.client_filename "
        "FROM recordings r WHERE r.id = recording_links.recording_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM recording_links l2 "
        "WHERE l2.recording_id = recording_links.recording_id "
        "AND (l2.uploaded_at < recording_links.uploaded_at "
        "OR (l2.uploaded_at = recording_links.uploaded_at AND l2.id < recording_links.id)))"
    )


def downgrade() -> None:
    op.drop_table("research_studies")
    op.drop_table("audit_events")
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("client_filename", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_recordings_created_by_id_users",
            "users",
            ["created_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.execute(
        "UPDATE recordings SET client_filename = (SELECT l.client_filename FROM recording_links l "
        "WHERE l.recording_id = recordings.id ORDER BY l.uploaded_at, l.id LIMIT 1), "
        "created_by_id = (SELECT l.uploaded_by_id FROM recording_links l "
        "WHERE l.recording_id = recordings.id ORDER BY l.uploaded_at, l.id LIMIT 1)"
    )
    op.drop_index(op.f("ix_recording_links_clinic_id"), table_name="recording_links")
    op.drop_index(op.f("ix_recording_links_recording_id"), table_name="recording_links")
    op.drop_table("recording_links")
