"""Jobs: `not_before`, the earliest time a job released for a retry (Triton unavailable) may be
claimed again.

Revision ID: 0003_job_retry_after
Revises: 0002_jobs
Create Date: 2026-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_job_retry_after"
down_revision: str | None = "0002_jobs"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("not_before", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("not_before")
