"""Bodies of GET /health, /models, /speakers, /languages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class WeightsInfo(BaseModel):
    model_name: str
    variant: str
    model_size: str
    weights: str
    weights_kind: str
    """`hub`, `local` or `tiny_random` (noise: tests and offline runs only)."""
    loaded: bool


class HealthResponse(BaseModel):
    status: str
    """`healthy`, or `unhealthy` (with 503) when Triton or the database is unreachable or not ready."""
    cuda_available: bool | None = None
    models_loaded: list[str] = []
    default_model_size: str
    gpu_name: str | None = None
    triton_ready: bool = False
    database_ready: bool = False
    random_weights: bool = False
    warning: str | None = None
    error: str | None = None


class ModelsResponse(BaseModel):
    available_models: dict[str, dict[str, str]]
    available_speakers: list[str]
    supported_languages: list[str]
    loaded_models: list[str]
    cuda_available: bool
    gpu_info: dict[str, Any] | None
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
