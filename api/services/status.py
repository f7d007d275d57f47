"""What the service reports about itself: Triton readiness, loaded models, GPU, weights."""

from __future__ import annotations

import time
from typing import Any

from api import metrics
from api.catalog import LANGUAGES, SPEAKERS, available_models
from api.errors import UnavailableError
from api.inference.client import TritonGateway
from api.schemas.info import HealthResponse, ModelsResponse, WeightsInfo
from api.settings import Settings

RANDOM_WEIGHTS_WARNING = (
    "TINY RANDOM WEIGHTS: the loaded models are randomly initialised test checkpoints and speak noise. "
    "Set QWEN_TTS_WEIGHTS_DIR or give Triton hub access to serve the real Qwen3-TTS models."
)
_INFO_TTL_SECONDS = 10.0
_info_cache: dict[str, Any] = {"at": 0.0, "value": None}


def _label(name: str, info: dict[str, Any]) -> str:
    model = info.get("models", {}).get(name)
    return f"{model['model_size']}_{model['variant']}" if model else name


async def _engine_info(triton: TritonGateway) -> dict[str, Any]:
    # /health is probed often; the facts behind it change only when Triton restarts.
    now = time.monotonic()
    if _info_cache["value"] is None or now - _info_cache["at"] > _INFO_TTL_SECONDS:
        _info_cache["value"] = await triton.engine_info()
        _info_cache["at"] = now
    return dict(_info_cache["value"])


def _weights(info: dict[str, Any], loaded: list[str]) -> list[WeightsInfo]:
    fields = ("model_name", "variant", "model_size", "weights", "weights_kind")
    return [
        WeightsInfo(**{k: model[k] for k in fields}, loaded=name in loaded)
        for name, model in sorted(info.get("models", {}).items())
    ]


def _random_weights(weights: list[WeightsInfo]) -> bool:
    return any(w.weights_kind == "tiny_random" for w in weights if w.loaded)


async def health(*, triton: TritonGateway, settings: Settings) -> HealthResponse:
    """Raises UnavailableError (503) with the reason when Triton cannot serve."""
    ready = await triton.is_ready()
    metrics.observe_triton_ready(ready)
    if not ready:
        raise UnavailableError("the inference server (Triton) is unreachable or not ready")
    loaded = [name for name in await triton.loaded_models() if name != "engine_info"]
    info = await _engine_info(triton)
    weights = _weights(info, loaded)
    random = _random_weights(weights)
    gpu = info.get("gpu") or {}
    return HealthResponse(
        status="healthy",
        cuda_available=bool(info.get("cuda_available")),
        models_loaded=[_label(name, info) for name in loaded],
        default_model_size=settings.default_model_size,
        gpu_name=gpu.get("name"),
        triton_ready=True,
        random_weights=random,
        warning=RANDOM_WEIGHTS_WARNING if random else None,
    )


async def models(*, triton: TritonGateway, settings: Settings) -> ModelsResponse:
    loaded = [name for name in await triton.loaded_models() if name != "engine_info"]
    info = await _engine_info(triton)
    weights = _weights(info, loaded)
    random = _random_weights(weights)
    return ModelsResponse(
        available_models=available_models(),
        available_speakers=list(SPEAKERS),
        supported_languages=LANGUAGES,
        loaded_models=[_label(name, info) for name in loaded],
        cuda_available=bool(info.get("cuda_available")),
        gpu_info=info.get("gpu"),
        default_model_size=settings.default_model_size,
        weights=weights,
        random_weights=random,
        warning=RANDOM_WEIGHTS_WARNING if random else None,
    )


async def model_weights(triton: TritonGateway, model: str) -> str:
    """Where Triton loads `model`'s weights from (hub id or folder): stored clone prompts are keyed by it."""
    found = (await _engine_info(triton)).get("models", {}).get(model) or {}
    if not found.get("weights"):
        raise UnavailableError(f"the inference server does not report the weights of model {model}")
    return str(found["weights"])
