"""The only code that speaks gRPC to Triton: health, model control, inference, error mapping."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from typing import Any

import grpc
import numpy as np
from tritonclient.grpc import InferInput, InferRequestedOutput, InferResult
from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException

from api import request_id
from api.errors import ApiError, BackendError, ModelDownError, UnavailableError, ValidationFailed
from api.inference.model_health import ModelHealth
from api.inference.tensors import ClonePrompt, SynthesisCall, build_inputs, read_clone_prompt
from tts_contract.errors import ErrorKind, decode_error
from tts_contract.models import INFO_MODEL

log = logging.getLogger(__name__)

_UNREACHABLE = ("StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "StatusCode.CANCELLED")
_RETRY = {"Retry-After": "5"}
# What Triton's Python backend answers for a model whose stub process is gone (2.51: "Stub process
# 'custom_voice_1_7b_0_0' is not healthy.").
_DEAD_BACKEND = re.compile(r"stub process\b.*\b(not healthy|unhealthy|exited|died)", re.IGNORECASE)


def _is_unreachable(exc: InferenceServerException) -> bool:
    status = str(exc.status() or "")
    return status in _UNREACHABLE or "failed to connect" in str(exc.message()).lower()


def map_triton_error(exc: InferenceServerException, *, model: str) -> ApiError:
    """One place that turns Triton's errors into the API's taxonomy."""
    status, message = str(exc.status() or ""), str(exc.message() or "")
    engine_error = decode_error(message)
    if engine_error is not None:
        return _engine_error(engine_error.kind, engine_error.message, model=model)
    if _DEAD_BACKEND.search(message):  # the stub process died: Triton still says READY, every call fails
        return ModelDownError(model, f"model {model} is down (its backend process stopped); retry shortly")
    if status == "StatusCode.DEADLINE_EXCEEDED":
        return UnavailableError(f"Triton did not answer in time for model {model}", headers=_RETRY)
    if _is_unreachable(exc):
        return UnavailableError("the inference server (Triton) is unreachable; retry shortly", headers=_RETRY)
    if status == "StatusCode.INVALID_ARGUMENT":
        lowered = message.lower()
        if "unknown model" in lowered or "is not ready" in lowered or "not found" in lowered:
            return UnavailableError(f"model {model} is not loaded on the inference server", headers=_RETRY)
        return ValidationFailed(message.split("] ", 1)[-1])
    if status in ("StatusCode.NOT_FOUND", "StatusCode.UNIMPLEMENTED"):
        return UnavailableError(f"model {model} is not loaded on the inference server", headers=_RETRY)
    if status == "StatusCode.RESOURCE_EXHAUSTED":
        return UnavailableError(f"model {model} is overloaded; retry shortly", headers={"Retry-After": "2"})
    return BackendError(f"inference failed on model {model}")


def _engine_error(kind: ErrorKind, message: str, *, model: str) -> ApiError:
    """The engine's own structured errors (tts_contract.errors)."""
    if kind is ErrorKind.INVALID_ARGUMENT:
        return ValidationFailed(message)
    if kind is ErrorKind.OVERLOADED:
        return UnavailableError(f"model {model} is overloaded; retry shortly", headers={"Retry-After": "2"})
    if kind is ErrorKind.UNHEALTHY:
        return ModelDownError(model, f"model {model} is down ({message}); retry shortly")
    return BackendError(f"inference failed on model {model}")


def stream_error(exc: InferenceServerException) -> InferenceServerException:
    """Give an error received inside a stream (a bare message) the status the same failure has in a
    unary call; the engine's structured errors keep their message for `map_triton_error`."""
    if exc.status():
        return exc
    message = str(exc.message() or "")
    if decode_error(message) is not None:
        return InferenceServerException(msg=message, status="StatusCode.INTERNAL")
    lowered = message.lower()
    if "unknown model" in lowered or "is not ready" in lowered:
        return InferenceServerException(msg=message, status="StatusCode.NOT_FOUND")
    if "maximum queue size" in lowered:
        return InferenceServerException(msg=message, status="StatusCode.RESOURCE_EXHAUSTED")
    return InferenceServerException(msg=message, status="StatusCode.INTERNAL")


def rpc_error(exc: grpc.RpcError) -> InferenceServerException:
    """A transport failure of the stream (Triton down, deadline passed) as tritonclient reports it."""
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    return InferenceServerException(msg=str(details), status=str(code) if code is not None else None)


def is_final(result: InferResult) -> bool:
    parameters = result.get_response().parameters
    return bool(parameters["triton_final_response"].bool_param) if "triton_final_response" in parameters else True


def joined_audio(results: list[InferResult]) -> tuple[np.ndarray | None, np.ndarray | None]:
    """AUDIO of every response (chunks, then the final rest) end to end, and the SAMPLE_RATE."""
    chunks = [audio.reshape(-1) for r in results if (audio := r.as_numpy("AUDIO")) is not None]
    rates = [rate for r in results if (rate := r.as_numpy("SAMPLE_RATE")) is not None]
    audio = np.concatenate(chunks).astype(np.float32) if chunks else None
    return audio, rates[-1] if rates else None


class TritonGateway:
    """One gRPC channel to Triton, shared by all requests of this API process."""

    def __init__(self, url: str, *, timeout_seconds: float, connect_timeout_seconds: float):
        self._client = InferenceServerClient(url=url)
        self._timeout = timeout_seconds
        self._short = connect_timeout_seconds
        self._load_locks: dict[str, asyncio.Lock] = {}
        self.models = ModelHealth()
        """Models found down, and the calls in flight on each (api/healing reloads the dead)."""

    async def close(self) -> None:
        await self._client.close()

    async def is_ready(self) -> bool:
        try:
            return bool(await self._client.is_server_ready(client_timeout=self._short))
        except InferenceServerException:
            return False

    async def loaded_models(self) -> list[str]:
        """Names of the models Triton reports READY; raises UnavailableError when unreachable."""
        try:
            index = await self._client.get_model_repository_index(as_json=True, client_timeout=self._short)
        except InferenceServerException as exc:
            raise map_triton_error(exc, model="(repository index)") from exc
        return sorted(m["name"] for m in index.get("models", []) if m.get("state") == "READY")

    async def ensure_loaded(self, model: str, *, on_demand: bool, load_timeout: float) -> None:
        self.models.check(model)  # found dead: its own 503 (being healed), whatever Triton says
        try:
            if await self._client.is_model_ready(model, client_timeout=self._short):
                return
        except InferenceServerException as exc:
            if _is_unreachable(exc):
                raise map_triton_error(exc, model=model) from exc
        if not on_demand:
            raise UnavailableError(f"model {model} is not loaded on the inference server", headers=_RETRY)
        lock = self._load_locks.setdefault(model, asyncio.Lock())
        async with lock:  # one load per model, however many requests wait for it
            try:
                if not await self._client.is_model_ready(model, client_timeout=self._short):
                    await self._client.load_model(model, client_timeout=load_timeout)
            except InferenceServerException as exc:
                # Triton's reason names files and paths on its side: logged here, not sent to clients
                log.warning("loading model %s failed: %s", model, exc.message())
                raise UnavailableError(f"model {model} could not be loaded; retry later", headers=_RETRY) from exc

    async def _stream(
        self, model: str, inputs: list[InferInput], outputs: list[InferRequestedOutput]
    ) -> list[InferResult]:
        """Send one request over a gRPC stream and collect its responses up to the final one; refused
        at once (503) while its model is down, aborted if it goes down meanwhile."""
        async with aclosing(self.models.guarded(model, self._responses(model, inputs, outputs))) as responses:
            return [result async for result in responses]

    async def _responses(
        self, model: str, inputs: list[InferInput], outputs: list[InferRequestedOutput], timeout: float | None = None
    ) -> AsyncGenerator[InferResult, None]:
        """Send one request over a gRPC stream and yield its responses as they arrive, up to the final
        one, within the deadline. Leaving early (an error, the deadline, the caller cancelled or
        closed this iterator) cancels the call, and Triton tells the model, which drops the row."""
        answered = asyncio.Event()

        async def requests() -> AsyncIterator[dict[str, Any]]:
            yield {"model_name": model, "inputs": inputs, "outputs": outputs, "request_id": request_id.current() or ""}
            await answered.wait()  # half-closing earlier could end the stream before the answer

        responses = None
        try:
            responses = self._client.stream_infer(requests(), stream_timeout=timeout or self._timeout)
            async for result, error in responses:
                if error is not None:
                    raise map_triton_error(stream_error(error), model=model)
                final = is_final(result)
                if final:
                    answered.set()
                yield result
                if final:
                    return
        except InferenceServerException as exc:
            raise map_triton_error(stream_error(exc), model=model) from exc
        except grpc.RpcError as exc:
            raise map_triton_error(rpc_error(exc), model=model) from exc
        finally:
            if not answered.is_set():
                answered.set()
                if responses is not None:
                    responses.cancel()
        raise BackendError(f"model {model} ended its answer without a final response")

    async def synthesize(self, model: str, call: SynthesisCall) -> tuple[np.ndarray, int]:
        outputs = [InferRequestedOutput("AUDIO"), InferRequestedOutput("SAMPLE_RATE")]
        audio, rate = joined_audio(await self._stream(model, build_inputs(call), outputs))
        if audio is None or rate is None:
            raise BackendError(f"model {model} returned no audio")
        return audio, int(rate.reshape(-1)[0])

    async def synthesize_stream(self, model: str, call: SynthesisCall) -> AsyncGenerator[tuple[np.ndarray, int], None]:
        """STREAM=true: each response's audio (the chunks, then the final rest, which may be empty)
        and sample rate as it arrives. Closing the iterator early cancels the generation."""
        outputs = [InferRequestedOutput("AUDIO"), InferRequestedOutput("SAMPLE_RATE")]
        inputs = build_inputs(replace(call, stream=True))
        async with aclosing(self.models.guarded(model, self._responses(model, inputs, outputs))) as responses:
            async for result in responses:
                audio, rate = joined_audio([result])
                if rate is None:
                    raise BackendError(f"model {model} sent audio without its sample rate")
                yield (audio if audio is not None else np.zeros(0, np.float32)), int(rate.reshape(-1)[0])

    async def create_clone_prompt(
        self, model: str, *, ref_audio: np.ndarray, ref_sample_rate: int, ref_text: str | None, x_vector_only: bool
    ) -> ClonePrompt:
        """Have a Base model compute the clone prompt of a reference (PROMPT_ONLY: no text, no audio out)."""
        call = SynthesisCall(
            text=None,
            language=None,
            ref_audio=ref_audio,
            ref_sample_rate=ref_sample_rate,
            ref_text=None if x_vector_only else ref_text,
            x_vector_only=x_vector_only,
            prompt_only=True,
        )
        outputs = [InferRequestedOutput("REF_CODE"), InferRequestedOutput("REF_SPK_EMBEDDING")]
        result = (await self._stream(model, build_inputs(call), outputs))[-1]
        try:
            return read_clone_prompt(
                result.as_numpy("REF_CODE"), result.as_numpy("REF_SPK_EMBEDDING"), x_vector_only=x_vector_only
            )
        except ValueError as exc:
            raise BackendError(f"model {model} returned an unusable clone prompt: {exc}") from exc

    async def probe(self, model: str, *, timeout: float) -> None:
        """Ask the model's backend whether it serves (PROBE: answered at once, nothing generated);
        raises as a call would: ModelDownError when its process or generation loop is gone."""
        call = SynthesisCall(text="", language=None, probe=True)  # TEXT: a required input of most models
        outputs = [InferRequestedOutput("SAMPLE_RATE")]
        async with aclosing(self._responses(model, build_inputs(call), outputs, timeout)) as responses:
            async for _ in responses:
                pass

    async def model_states(self) -> dict[str, str]:
        """Triton's state of each model in its repository: READY, LOADING, UNLOADING, UNAVAILABLE."""
        try:
            index = await self._client.get_model_repository_index(as_json=True, client_timeout=self._short)
        except InferenceServerException as exc:
            raise map_triton_error(exc, model="(repository index)") from exc
        return {str(m["name"]): str(m.get("state", "UNAVAILABLE")) for m in index.get("models", [])}

    async def is_live(self) -> bool:
        try:
            return bool(await self._client.is_server_live(client_timeout=self._short))
        except InferenceServerException:
            return False

    async def reload(self, model: str, *, timeout: float) -> None:
        """Unload the model, then load it (a plain load of a READY model does nothing): a new backend process."""
        try:
            await self._client.unload_model(model, client_timeout=self._short)
            await self._client.load_model(model, client_timeout=timeout)
        except InferenceServerException as exc:
            raise map_triton_error(exc, model=model) from exc

    async def engine_info(self) -> dict[str, Any]:
        """GPU and weights facts from the `engine_info` model in the Triton container (not decoupled)."""
        query = InferInput("QUERY", [1], "BYTES")
        query.set_data_from_numpy(np.array([b"info"], dtype=np.object_))
        try:
            result = await self._client.infer(INFO_MODEL, [query], client_timeout=max(self._short, 30.0))
        except InferenceServerException as exc:
            raise map_triton_error(exc, model=INFO_MODEL) from exc
        raw = result.as_numpy("INFO")
        return json.loads(raw.reshape(-1)[0]) if raw is not None else {}

    async def inference_statistics(self, model: str) -> dict[str, Any]:
        try:
            stats = await self._client.get_inference_statistics(model, as_json=True, client_timeout=self._short)
        except InferenceServerException as exc:
            raise map_triton_error(exc, model=model) from exc
        return dict(stats)
