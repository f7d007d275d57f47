"""Jobs: `not_before`, the earliest time a job released for a retry (Triton unavailable) may be
claimed again."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_job_retry_after"
down_revision: str | None = "0002_jobs"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("not_before", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("not_before")
