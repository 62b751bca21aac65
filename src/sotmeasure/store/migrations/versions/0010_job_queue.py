"""Job queue: procrastinate's schema (PostgreSQL only) and `measurements.processed_by`.

Revision ID: 0010_job_queue
Revises: 0003_clinic_setups
Create Date: 2026-12-06 20:00:00

On PostgreSQL, measurements are processed through procrastinate jobs (store/job_queue.py);
its schema.sql is applied verbatim from the pinned procrastinate version. A later
procrastinate upgrade adds a revision that runs that version's own migration files.
SQLite installs get only the column (their worker threads need no queue).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sotmeasure.store.job_queue import create_queue_schema, drop_queue_schema

revision = "0010_job_queue"
down_revision = "0003_clinic_setups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("processed_by", sa.String(length=200), nullable=True))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        create_queue_schema(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        drop_queue_schema(bind)
    with op.batch_alter_table("measurements", schema=None) as batch_op:
        batch_op.drop_column("processed_by")
