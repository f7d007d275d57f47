"""Jobs: `request_id`, the X-Request-ID of the request that submitted the job.

Revision ID: 0006_job_request_id
Revises: 0005_batches
Create Date: 2026-01-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_job_request_id"
down_revision: str | None = "0005_batches"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("request_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("request_id")
