"""API keys: the `api_keys` table, and the owner (key id) of each voice and job.

The idempotency key of a job is stored prefixed by its owner's key id, so its column grows by the
length of that prefix."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.store.migrations.sizes import IDEMPOTENCY_KEY, KEY_ID

revision: str = "0004_api_keys"
down_revision: str | None = "0003_job_retry_after"


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(KEY_ID), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
    )
    with op.batch_alter_table("voices") as batch:
        batch.add_column(sa.Column("owner", sa.String(KEY_ID), nullable=True))
        batch.create_index("ix_voices_owner", ["owner"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("owner", sa.String(KEY_ID), nullable=True))
        batch.alter_column(
            "idempotency_key", existing_type=sa.String(255), type_=sa.String(IDEMPOTENCY_KEY), existing_nullable=True
        )
        batch.create_index("ix_jobs_owner_status_seq", ["owner", "status", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_owner_status_seq")
        batch.alter_column(
            "idempotency_key", existing_type=sa.String(IDEMPOTENCY_KEY), type_=sa.String(255), existing_nullable=True
        )
        batch.drop_column("owner")
    with op.batch_alter_table("voices") as batch:
        batch.drop_index("ix_voices_owner")
        batch.drop_column("owner")
    op.drop_table("api_keys")
