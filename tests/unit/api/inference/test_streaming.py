"""The gateway calls the decoupled TTS models over gRPC streaming: chunks joined up to the final
response, errors inside the stream and of the stream mapped like those of a unary call."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from api.errors import ApiError, BackendError, ModelDownError, UnavailableError, ValidationFailed
from api.inference.client import TritonGateway, stream_error
from api.inference.model_health import ModelHealth
from api.inference.tensors import SynthesisCall
from tts_contract.errors import ErrorKind, encode_error


class _Param:
    def __init__(self, value: bool):
        self.bool_param = value


class _Result:
    def __init__(self, audio: np.ndarray, *, final: bool, rate: int | None = 24000):
        self.outputs = {"AUDIO": audio.reshape(1, -1)}
        if rate is not None:
            self.outputs["SAMPLE_RATE"] = np.array([[rate]], np.int32)
        self.final = final

    def as_numpy(self, name: str) -> np.ndarray | None:
        return self.outputs.get(name)

    def get_response(self) -> Any:
        return type("Response", (), {"parameters": {"triton_final_response": _Param(self.final)}})()


class _Unavailable(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "failed to connect to all addresses"


class _Stream:
    """Plays a script of (result, error) pairs or exceptions to raise; records a cancel."""

    def __init__(self, script: list[Any], requests: Any):
        self.script, self.requests, self.cancelled, self.sent = list(script), requests, False, False

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> tuple[Any, Any]:
        if not self.sent:
            await self.requests.__anext__()
            self.sent = True
        if not self.script:
            raise StopAsyncIteration
        item = self.script.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    def cancel(self) -> bool:
        self.cancelled = True
        return True


class _Client:
    def __init__(self, script: list[Any]):
        self.script = script
        self.stream: _Stream | None = None
        self.timeout: float | None = None

    def stream_infer(self, inputs_iterator: Any, stream_timeout: float) -> _Stream:
        self.timeout = stream_timeout
        self.stream = _Stream(self.script, inputs_iterator)
        return self.stream


def synthesize(script: list[Any]) -> tuple[tuple[np.ndarray, int] | ApiError, _Client]:
    triton = TritonGateway.__new__(TritonGateway)
    client = _Client(script)
    triton._client, triton._timeout, triton._short = client, 7.0, 1.0  # type: ignore[assignment]
    triton.models = ModelHealth()
    try:
        return asyncio.run(triton.synthesize("custom_voice_1_7b", SynthesisCall(text="hi", language="English"))), client
    except ApiError as exc:
        return exc, client


def test_chunks_are_joined_up_to_the_final_response_within_the_deadline():
    script = [
        (_Result(np.full(1920, 1.0, np.float32), final=False), None),
        (_Result(np.full(1920, 2.0, np.float32), final=False), None),
        (_Result(np.full(960, 3.0, np.float32), final=True), None),
        (_Result(np.full(5, 9.0, np.float32), final=True), None),  # never read: the answer was final
    ]
    answer, client = synthesize(script)
    assert not isinstance(answer, ApiError)
    audio, rate = answer
    assert rate == 24000 and audio.dtype == np.float32 and audio.shape == (4800,)
    assert audio[0] == 1.0 and audio[1920] == 2.0 and audio[-1] == 3.0
    assert client.timeout == 7.0 and client.stream is not None and not client.stream.cancelled


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (
            InferenceServerException(msg=encode_error(ErrorKind.INVALID_ARGUMENT, "SPEAKER 'x' is not supported")),
            ValidationFailed,
        ),
        (InferenceServerException(msg=encode_error(ErrorKind.OVERLOADED, "no room")), UnavailableError),
        (InferenceServerException(msg=encode_error(ErrorKind.INTERNAL, "CUDA error: /secret/path")), BackendError),
        (InferenceServerException(msg="Request for unknown model: 'm' is not found"), UnavailableError),
        (InferenceServerException(msg="generation failed: RuntimeError"), BackendError),
        # a dead backend is 503 naming the model, never 502
        (InferenceServerException(msg="Stub process 'custom_voice_1_7b_0_0' is not healthy."), ModelDownError),
        (InferenceServerException(msg=encode_error(ErrorKind.UNHEALTHY, "loop stopped")), ModelDownError),
    ],
)
def test_an_error_inside_the_stream_maps_like_a_unary_one(error, expected):
    answer, client = synthesize([(None, error)])
    assert isinstance(answer, expected)
    assert client.stream is not None and client.stream.cancelled
    if expected is ValidationFailed:
        assert answer.message == "SPEAKER 'x' is not supported"
    if expected is ModelDownError:
        assert answer.status_code == 503 and "custom_voice_1_7b" in answer.message and answer.headers["Retry-After"]


def test_a_broken_stream_is_unavailable_and_an_unfinished_one_a_backend_error():
    answer, _ = synthesize([_Unavailable()])
    assert isinstance(answer, UnavailableError)
    answer, client = synthesize([(_Result(np.ones(10, np.float32), final=False), None)])
    assert isinstance(answer, BackendError) and "final" in answer.message
    assert client.stream is not None and client.stream.cancelled


def test_stream_error_keeps_a_status_it_already_has():
    timed_out = InferenceServerException(msg="Deadline Exceeded", status="StatusCode.DEADLINE_EXCEEDED")
    assert stream_error(timed_out) is timed_out
    assert stream_error(InferenceServerException(msg="Exceeds maximum queue size")).status() == (
        "StatusCode.RESOURCE_EXHAUSTED"
    )


class _FailingLoader:
    async def is_model_ready(self, model: str, **kw: Any) -> bool:
        return False

    async def load_model(self, model: str, **kw: Any) -> None:
        raise InferenceServerException(
            "failed to load 'voice_clone_1_7b': /opt/models/voice_clone_1_7b/1/model.py: CUDA out of memory"
        )


def test_a_failed_on_demand_load_is_503_without_tritons_internals() -> None:
    gateway = TritonGateway.__new__(TritonGateway)
    gateway._client, gateway._short, gateway._load_locks = _FailingLoader(), 1.0, {}  # type: ignore[assignment]
    gateway.models = ModelHealth()
    with pytest.raises(UnavailableError) as caught:
        asyncio.run(gateway.ensure_loaded("voice_clone_1_7b", on_demand=True, load_timeout=5))
    message = caught.value.message
    assert "voice_clone_1_7b" in message
    assert "/opt" not in message and "CUDA" not in message
