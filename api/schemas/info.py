"""Bodies of GET /health, /models, /speakers, /languages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WeightsInfo(BaseModel):
    model_name: str
    variant: str
    model_size: str
    weights: str
    weights_kind: str
    """`hub`, `local` or `tiny_random` (noise: tests and offline runs only)."""
    loaded: bool
    max_rows: int | None = None
    """A loaded model's batch: rows generated together at most (`QWEN_TTS_MAX_BATCH_ROWS`, fewer
    if its KV cache bound holds fewer; more requests wait for a free row)."""
    kv_cache_gb: float | None = None
    """A loaded model's preallocated KV cache (`QWEN_TTS_KV_CACHE_MIB` bounds it; 0: not preallocated)."""


class ModelDownInfo(BaseModel):
    model: str
    """The Triton model name (`custom_voice_1_7b`)."""
    state: str
    """`dead` (its backend died; reloaded after a backoff when it keeps dying) or `reloading`."""
    reason: str
    since: float
    """When it was found down (epoch seconds)."""
    retry_in_seconds: float
    """When the healer next tries to bring it back."""


class HealthResponse(BaseModel):
    status: str
    """`healthy`; `degraded` (still 200: the other models serve) while a model's backend is down and
    being healed, named in `models_down`; `unhealthy` (503) when Triton or the database is unreachable."""
    models_down: list[ModelDownInfo] = []
    cuda_available: bool | None = None
    models_loaded: list[str] = []
    default_model_size: str
    gpu_name: str | None = None
    triton_ready: bool = False
    database_ready: bool = False
    random_weights: bool = False
    warning: str | None = None
    error: str | None = None


class GpuInfo(BaseModel):
    """The contract's fields, then ours. Allocated and reserved are torch's, summed over the TTS model
    processes as of their last decoding step or load (null when Triton's metrics cannot be read);
    used is the whole device's (every process, CUDA contexts included)."""

    model_config = ConfigDict(extra="allow")
    name: str
    total_memory_gb: float
    allocated_memory_gb: float | None = None
    reserved_memory_gb: float | None = None
    used_memory_gb: float | None = None
    device_count: int | None = None


class ModelsResponse(BaseModel):
    available_models: dict[str, dict[str, str]]
    available_speakers: list[str]
    supported_languages: list[str]
    loaded_models: list[str]
    cuda_available: bool
    gpu_info: GpuInfo | None
    default_model_size: str
    weights: list[WeightsInfo]
    random_weights: bool
    warning: str | None = None


class SpeakersResponse(BaseModel):
    speakers: list[str]
    details: dict[str, dict[str, str]]


class LanguagesResponse(BaseModel):
    languages: list[str]
    notes: str
