"""The `batches` table: one row per batch submission; its items are rows of `jobs` (job_table.py)
with `batch_id` set, so they share the durable queue's lease, retry and recovery.

Its schema is owned by the Alembic migration `0005_batches`: a change here needs a new migration.

A batch's status and counts are read from its items (one grouped count), never stored twice:
cancelled once `cancelled_at` is set, completed once no item is pending or processing, processing
once any has started, else pending. `owner` and `idempotency_key` work as for jobs.
"""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, String
from sqlmodel import Field, SQLModel

from api.store.job_table import IDEMPOTENCY_KEY_LENGTH, SEQ_TYPE
from api.store.key_table import KEY_ID_LENGTH


class BatchStatus:
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    ALL = (PENDING, PROCESSING, COMPLETED, CANCELLED)


class Batch(SQLModel, table=True):
    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_owner_seq", "owner", "seq"),)

    seq: int | None = Field(default=None, sa_column=Column(SEQ_TYPE, primary_key=True, autoincrement=True))
    id: str = Field(sa_column=Column(String(36), nullable=False, unique=True))
    owner: str | None = Field(default=None, sa_column=Column(String(KEY_ID_LENGTH), nullable=True))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(IDEMPOTENCY_KEY_LENGTH), nullable=True, unique=True)
    )
    request_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    total: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: float = Field(sa_column=Column(Float, nullable=False))
    cancelled_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
