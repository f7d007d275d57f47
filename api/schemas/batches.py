"""Request and response bodies of the batch endpoints (/batches)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.jobs import JobType
from api.schemas.pages import Page

CustomId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")]
"""The client's name for an item, unique in its batch: its file name in the results (letters, digits,
`.`, `_`, `-`; at most 128 characters, not starting with a dot)."""


class BatchItem(BaseModel):
    """One line of a batch: a job type and the body its synchronous endpoint takes."""

    model_config = ConfigDict(extra="forbid")

    custom_id: CustomId | None = Field(default=None, description="Your name for the item (its file name)")
    job_type: JobType
    request_data: dict[str, Any] = Field(description="The body the synchronous endpoint of this job type takes")


class BatchRequest(BaseModel):
    """POST /batches as a JSON object (a bare JSON array of items, or JSONL, are accepted too)."""

    items: list[BatchItem]
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None


class ItemError(BaseModel):
    line: int = Field(description="1-based: the item's line (JSONL) or place in the array")
    custom_id: str | None = None
    field: str | None = None
    error: str


class BatchCounts(BaseModel):
    pending: int = 0
    processing: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0


class BatchView(BaseModel):
    id: str
    status: str = Field(description="pending, processing, completed, cancelled")
    total: int
    counts: BatchCounts
    percent: float = Field(description="Items finished (completed, failed or cancelled) of the total, in percent")
    audio_seconds: float = Field(description="Seconds of audio of the completed items")
    created_at: float
    cancelled_at: float | None = None


class BatchCreated(BaseModel):
    success: bool = True
    batch_id: str
    batch: BatchView
    status_url: str
    stream_url: str
    results_url: str


class BatchList(Page):
    batches: list[BatchView]


class BatchItemView(BaseModel):
    index: int = Field(description="0-based place in the batch")
    custom_id: str | None
    file: str = Field(description="The item's file name in the results zip")
    job_id: str
    status: str
    duration_seconds: float | None = None
    error: str | None = None
    error_type: str | None = None


class BatchItems(BaseModel):
    items: list[BatchItemView]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page")


class BatchMessage(BaseModel):
    success: bool = True
    message: str
