"""Batches: the `batches` table, and each job's batch, custom id, place and file name in its batch, and
audio seconds."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from api.store.migrations.sizes import IDEMPOTENCY_KEY, KEY_ID

revision: str = "0005_batches"
down_revision: str | None = "0004_api_keys"


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(36), nullable=False, unique=True),
        sa.Column("owner", sa.String(KEY_ID), nullable=True),
        sa.Column("idempotency_key", sa.String(IDEMPOTENCY_KEY), nullable=True, unique=True),
        sa.Column("request_sha256", sa.String(64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("cancelled_at", sa.Float(), nullable=True),
    )
    op.create_index("ix_batches_owner_seq", "batches", ["owner", "seq"])
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("batch_id", sa.String(36), nullable=True))
        batch.add_column(sa.Column("custom_id", sa.String(128), nullable=True))
        batch.add_column(sa.Column("item_index", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("file_name", sa.String(140), nullable=True))
        batch.add_column(sa.Column("audio_seconds", sa.Float(), nullable=True))
        batch.create_index("ix_jobs_status_batch_seq", ["status", "batch_id", "seq"])
        batch.create_index("ix_jobs_batch_status", ["batch_id", "status"])


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_index("ix_jobs_batch_status")
        batch.drop_index("ix_jobs_status_batch_seq")
        batch.drop_column("audio_seconds")
        batch.drop_column("file_name")
        batch.drop_column("item_index")
        batch.drop_column("custom_id")
        batch.drop_column("batch_id")
    op.drop_index("ix_batches_owner_seq", table_name="batches")
    op.drop_table("batches")
