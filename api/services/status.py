"""What the service reports about itself: Triton and database readiness, loaded models, GPU, weights."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import anyio

from api import metrics
from api.catalog import LANGUAGES, SPEAKERS, available_models
from api.errors import UnavailableError
from api.inference.client import TritonGateway
from api.schemas.info import GpuInfo, HealthResponse, ModelDownInfo, ModelsResponse, WeightsInfo
from api.settings import Settings
from api.store.database import Database

log = logging.getLogger(__name__)
RANDOM_WEIGHTS_WARNING = (
    "TINY RANDOM WEIGHTS: the loaded models are randomly initialised test checkpoints and speak noise. "
    "Set QWEN_TTS_WEIGHTS_DIR or give Triton hub access to serve the real Qwen3-TTS models."
)
_INFO_TTL_SECONDS = 10.0
DATABASE_PING_SECONDS = 3.0
"""Longest the health check waits for the database: with Triton's check beside it, within a probe's 5 s."""
_info_cache: dict[str, Any] = {"at": 0.0, "value": None}
_loaded_cache: list[str] = []


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
    pool = ("max_rows", "kv_cache_gb")  # a loaded model's batch, from its loop's gauges
    return [
        WeightsInfo(**{k: model[k] for k in fields}, **{k: model[k] for k in pool if k in model}, loaded=name in loaded)
        for name, model in sorted(info.get("models", {}).items())
    ]


def _random_weights(weights: list[WeightsInfo]) -> bool:
    return any(w.weights_kind == "tiny_random" for w in weights if w.loaded)


def _ping(database: Database) -> None:
    database.migrate()  # a database that was down at start-up gets its schema now (once per process)
    # A plain SELECT on a raw connection: no transaction, so never SQLite's write lock (store/engine.py).
    connection = database.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        cursor.close()
    finally:
        connection.close()


async def database_ready(database: Database, timeout: float = DATABASE_PING_SECONDS) -> bool:
    """Whether the store answers a query (its schema brought up to date first) within `timeout`."""
    try:
        with anyio.fail_after(timeout):
            await anyio.to_thread.run_sync(_ping, database, abandon_on_cancel=True)
    except Exception as exc:  # whatever the reason (down, refused, timed out, locked), not ready
        log.warning("health: the database is not ready: %s", exc)
        return False
    return True


def _unhealthy(settings: Settings, reason: str, *, triton_ready: bool, store_ready: bool) -> HealthResponse:
    return HealthResponse(
        status="unhealthy",
        default_model_size=settings.default_model_size,
        triton_ready=triton_ready,
        database_ready=store_ready,
        error=reason,
    )


async def health(*, triton: TritonGateway, settings: Settings, database: Database) -> HealthResponse:
    """`healthy`; `degraded` while a model is down and being healed (the others serve: still ready);
    `unhealthy` with the reason when Triton or the database cannot serve (readiness: the route answers
    503). Both are checked at once, so the answer comes within about 3 s."""
    ready, store_ready = await asyncio.gather(triton.is_ready(), database_ready(database))
    if not ready and triton.models.down:
        # Triton is not ready while any model (un)loads: a model being healed must not take the others
        # out of service. Still live: ready, and degraded below.
        ready = await triton.is_live()
    metrics.observe_triton_ready(ready)
    reasons = [] if ready else ["the inference server (Triton) is unreachable or not ready"]
    reasons += [] if store_ready else ["the database is unreachable or not ready"]
    if reasons:
        return _unhealthy(settings, "; ".join(reasons), triton_ready=ready, store_ready=store_ready)
    try:
        return await _healthy(triton, settings)
    except UnavailableError as exc:  # Triton went away during the check
        return _unhealthy(settings, exc.message, triton_ready=False, store_ready=store_ready)


async def _loaded(triton: TritonGateway) -> list[str]:
    """READY models; while the healer reloads one, Triton's repository index may not answer until the
    load is done: the last list seen then, less the models that are down."""
    try:
        loaded = [name for name in await triton.loaded_models() if name != "engine_info"]
    except UnavailableError:
        if not triton.models.down:
            raise
        return [name for name in _loaded_cache if name not in triton.models.down]
    _loaded_cache[:] = loaded
    return loaded


async def _healthy(triton: TritonGateway, settings: Settings) -> HealthResponse:
    loaded = await _loaded(triton)
    info = await _engine_info(triton)
    weights = _weights(info, loaded)
    random = _random_weights(weights)
    gpu = info.get("gpu") or {}
    down = _models_down(triton)
    return HealthResponse(
        status="degraded" if down else "healthy",
        models_down=down,
        cuda_available=bool(info.get("cuda_available")),
        models_loaded=[_label(name, info) for name in loaded],
        default_model_size=settings.default_model_size,
        gpu_name=gpu.get("name"),
        triton_ready=True,
        database_ready=True,
        random_weights=random,
        warning=RANDOM_WEIGHTS_WARNING if random else None,
    )


def _models_down(triton: TritonGateway) -> list[ModelDownInfo]:
    """Models whose backend this process found dead (api/healing heals them)."""
    return [
        ModelDownInfo(
            model=down.model,
            state=down.state.value,
            reason=down.reason,
            since=down.since,
            retry_in_seconds=round(down.retry_after(), 1),
        )
        for _, down in sorted(triton.models.down.items())
    ]


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
        gpu_info=GpuInfo.model_validate(info["gpu"]) if info.get("gpu") else None,
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
