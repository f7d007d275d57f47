"""The `jobs` table: the durable FIFO queue of asynchronous jobs (see job_queue.py).

Its schema is owned by the Alembic migrations `0002_jobs`, `0003_job_retry_after`, `0004_api_keys`,
`0005_batches`, `0006_job_request_id` and `0007_batch_counts_index`: a change here needs a new migration.

- `seq` is the queue order: a database sequence (BIGSERIAL on PostgreSQL, the rowid on SQLite),
  never a timestamp, so two submissions in the same microsecond, or from replicas with skewed
  clocks, still have one order. `id` (a UUID) is what clients see.
- `status`: pending -> processing -> completed | failed | cancelled (pending may go straight to
  cancelled; a released or lease-expired processing job goes back to pending / is claimed again).
- A claim is a lease: `worker_id` holds the job until `lease_expires_at` (epoch seconds), which the
  worker renews while it runs; an expired lease lets another worker claim it (`attempts` counts).
- `not_before`: a job given back for a retry (Triton unavailable) is pending again but not claimed
  before this time (epoch seconds); None: claimable at once.
- `version` grows on every change of the row a client can see: SSE event ids are built from it.
- `owner`: the id of the API key that submitted the job (NULL with auth off, or the bootstrap admin
  key). `idempotency_key` is stored prefixed by it (`qk_3f9a0c1b:<key>`), so two keys never share
  one: another key's retry is a new job, never a view of someone else's.
- `batch_id`: the batch (batch_table.py) an item belongs to, NULL for a single job submitted to
  /jobs; `custom_id` (the client's name for the item), `item_index` (its line, from 0) and
  `file_name` (its audio file in the batch's results) with it.
  Batch items are claimed by the batch lane (batch_queue.py), single jobs by the FIFO (job_queue.py).
- `audio_seconds`: the duration of a completed job's audio (summed per batch without reading results).
- `request_id`: the X-Request-ID of the request that submitted the job; its worker runs it under that
  id (logs, Triton's request id).
- Times are epoch seconds (floats), as the contract shows them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Float, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from api.store.key_table import KEY_ID_LENGTH

# BIGSERIAL on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY (its rowid).
SEQ_TYPE = BigInteger().with_variant(Integer(), "sqlite")
# A client's key (at most 255 characters) prefixed by its owner's key id and ":".
IDEMPOTENCY_KEY_LENGTH = 255 + KEY_ID_LENGTH + 1
REQUEST_ID_LENGTH = 128  # api/request_id.py


class JobStatus:
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FINISHED = (COMPLETED, FAILED, CANCELLED)
    ALL = (PENDING, PROCESSING, COMPLETED, FAILED, CANCELLED)


class Job(SQLModel, table=True):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_seq", "status", "seq"),  # claim order, queue position, filtered lists
        Index("ix_jobs_status_lease", "status", "lease_expires_at"),  # expired leases
        Index("ix_jobs_status_finished", "status", "finished_at"),  # purge
        Index("ix_jobs_owner_status_seq", "owner", "status", "seq"),  # one key's lists and pending count
        Index("ix_jobs_status_batch_seq", "status", "batch_id", "seq"),  # single FIFO, batch lane, pending items
        # a batch's counts (from the index alone: migration 0006) and items
        Index("ix_jobs_batch_status", "batch_id", "status", "audio_seconds"),
    )

    seq: int | None = Field(default=None, sa_column=Column(SEQ_TYPE, primary_key=True, autoincrement=True))
    id: str = Field(sa_column=Column(String(36), nullable=False, unique=True))
    job_type: str = Field(sa_column=Column(String(32), nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    request_data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    idempotency_key: str | None = Field(
        default=None, sa_column=Column(String(IDEMPOTENCY_KEY_LENGTH), nullable=True, unique=True)
    )
    request_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    progress: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    error_type: str | None = Field(default=None, sa_column=Column(String(32), nullable=True))
    worker_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    lease_expires_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    attempts: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False))
    created_at: float = Field(sa_column=Column(Float, nullable=False))
    updated_at: float = Field(sa_column=Column(Float, nullable=False))
    started_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    finished_at: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    not_before: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    owner: str | None = Field(default=None, sa_column=Column(String(KEY_ID_LENGTH), nullable=True))
    batch_id: str | None = Field(default=None, sa_column=Column(String(36), nullable=True))
    custom_id: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    item_index: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    file_name: str | None = Field(default=None, sa_column=Column(String(140), nullable=True))
    audio_seconds: float | None = Field(default=None, sa_column=Column(Float, nullable=True))
    request_id: str | None = Field(default=None, sa_column=Column(String(REQUEST_ID_LENGTH), nullable=True))
