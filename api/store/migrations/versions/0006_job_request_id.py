"""Jobs: `request_id`, the X-Request-ID of the request that submitted the job."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0006_job_request_id"
down_revision: str | None = "0005_batches"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("request_id", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("request_id")
