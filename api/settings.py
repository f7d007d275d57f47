"""All API settings: each one an environment variable (prefix `QWEN_TTS_`), documented here."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QWEN_TTS_", env_file=None, extra="ignore")

    triton_url: str = "127.0.0.1:8001"
    """Triton gRPC endpoint, host:port (env QWEN_TTS_TRITON_URL)."""

    triton_timeout_seconds: float = Field(default=600.0, gt=0)
    """Deadline of one inference call to Triton; a long text at max_new_tokens takes minutes on CPU."""

    triton_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    """Deadline of health and metadata calls: an unreachable Triton answers 503 within this."""

    default_model_size: str = Field(default="1.7B", pattern=r"^(0\.6B|1\.7B)$")
    """Model size used when a request does not name one (the contract's default is 1.7B)."""

    load_models_on_demand: bool = False
    """When a requested model is not loaded: False answers 503 naming it; True asks Triton
    (explicit model control) to load it and waits. Off by default: loading a 1.7B model takes
    tens of seconds and GPU memory that a resident model may need."""

    model_load_timeout_seconds: float = Field(default=300.0, gt=0)
    """How long an on-demand load may take before the request gets 503."""

    max_inflight_requests: int = Field(default=64, ge=1)
    """Synchronous TTS requests in flight at once (all routes together); beyond it 429."""

    max_text_chars: int = Field(default=5000, ge=1)
    """Longest accepted `text`, in characters (the contract's limit is about 4096 tokens)."""

    max_new_tokens_limit: int = Field(default=4096, ge=1, le=4096)
    """Largest accepted `max_new_tokens` (codec frames, 80 ms each)."""

    default_max_new_tokens: int = Field(default=2048, ge=1, le=4096)
    """`max_new_tokens` when a request gives none: bounds a row that never emits EOS (about 164 s)."""

    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    """Largest reference audio accepted, uploaded or fetched (the contract says 10 MB)."""

    fetch_timeout_seconds: float = Field(default=15.0, gt=0)
    """Connect and read timeout when fetching `ref_audio_url`."""

    cors_origins: list[str] = []
    """Origins allowed by CORS (JSON list). Empty: no CORS headers."""


@lru_cache
def get_settings() -> Settings:
    return Settings()
