"""Request and response bodies of the asynchronous job endpoints (the contract's field names)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from api.schemas.pages import Page
from api.schemas.tts import (
    CLONE_LANGUAGE,
    CustomVoiceRequest,
    ModelSize,
    RefText,
    TTSBase,
    VoiceCloneURLRequest,
    VoiceDesignRequest,
)
from api.schemas.voices import ClonedVoiceTTSRequest


class JobType(StrEnum):
    CUSTOM_VOICE = "custom_voice"
    VOICE_DESIGN = "voice_design"
    VOICE_CLONE_URL = "voice_clone_url"
    VOICE_CLONE_FILE = "voice_clone_file"
    CLONED_VOICE_GENERATE = "cloned_voice_generate"


class VoiceCloneFileRequest(TTSBase):
    """`voice_clone_file`: the fields of /tts/clone/upload, with the audio file inline as base64."""

    ref_audio_base64: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="The reference audio file's bytes, base64 (a data: URI is fine)"
    )
    ref_text: RefText
    model_size: ModelSize | None = None
    language: str = CLONE_LANGUAGE


# Each job type's `request_data` is validated by the model of its synchronous endpoint.
REQUEST_MODELS: dict[JobType, type[BaseModel]] = {
    JobType.CUSTOM_VOICE: CustomVoiceRequest,
    JobType.VOICE_DESIGN: VoiceDesignRequest,
    JobType.VOICE_CLONE_URL: VoiceCloneURLRequest,
    JobType.VOICE_CLONE_FILE: VoiceCloneFileRequest,
    JobType.CLONED_VOICE_GENERATE: ClonedVoiceTTSRequest,
}

IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]


class JobCreate(BaseModel):
    job_type: JobType
    request_data: dict[str, Any] = Field(description="The body the synchronous endpoint of this job type takes")
    idempotency_key: IdempotencyKey | None = Field(
        default=None, description="Same as the Idempotency-Key header: a retry returns the same job"
    )


class JobProgress(BaseModel):
    stage: str = Field(
        description="created (submitted), loading_model (model checked or loaded, reference prepared), "
        "generating, encoding, then completed, failed or cancelled; queued: given back to the queue for a retry"
    )
    percent: float
    message: str
    timestamp: float
    percent_is_estimate: bool = Field(default=False, description="True: percent marks the stage, not measured work")
    position: int | None = Field(default=None, description="Place in the FIFO queue (1 = next), while queued")
    segments_done: int | None = Field(default=None, description="A long text's segments generated so far")
    segments_total: int | None = Field(default=None, description="A long text's segments (absent: one segment)")


class JobView(BaseModel):
    id: str
    type: JobType
    status: str = Field(description="pending, processing, completed, failed, cancelled")
    created_at: float
    updated_at: float
    started_at: float | None = None
    finished_at: float | None = None
    progress: JobProgress
    elapsed_seconds: float = Field(description="Since submission, until it finished")
    attempts: int = 0
    error: str | None = None
    error_type: str | None = None
    batch_id: str | None = Field(default=None, description="The batch this job is an item of (absent: a single job)")
    request_id: str | None = Field(default=None, description="X-Request-ID of the request that submitted it")


class JobCreated(BaseModel):
    success: bool = True
    job_id: str
    job: JobView
    stream_url: str
    status_url: str


class JobStatusResponse(BaseModel):
    job: JobView


class JobList(Page):
    jobs: list[JobView]


class JobResult(BaseModel):
    success: bool
    job_id: str
    status: str
    result: dict[str, Any] | None = None
    error: str | None = None
    error_type: str | None = None


class JobMessage(BaseModel):
    success: bool = True
    message: str
