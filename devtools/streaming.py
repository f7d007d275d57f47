"""Calling the decoupled TTS models straight over gRPC streaming, as the API does (for tests and benchmarks)."""

from __future__ import annotations

import queue
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tritonclient.grpc as grpc

from api.inference.client import is_final


@dataclass
class Answer:
    """Every response of one request, and when each arrived (seconds after sending)."""

    results: list[grpc.InferResult] = field(default_factory=list)
    arrivals: list[float] = field(default_factory=list)

    def audio(self) -> np.ndarray:
        """AUDIO of every response end to end (chunks, then the final rest)."""
        parts = [a.reshape(-1) for r in self.results if (a := r.as_numpy("AUDIO")) is not None]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)


def stream(url: str, model: str, inputs: list[grpc.InferInput], outputs: Any = None, timeout: float = 300) -> Answer:
    """Send one request on its own stream; collect its responses up to the final one. An error
    response raises InferenceServerException (a message without a status: gRPC streaming)."""
    responses: queue.Queue[tuple[Any, Any, float]] = queue.Queue()
    answer = Answer()
    with grpc.InferenceServerClient(url) as client:
        client.start_stream(
            callback=lambda result, error: responses.put((result, error, time.perf_counter())), stream_timeout=timeout
        )
        try:
            started = time.perf_counter()
            client.async_stream_infer(model, inputs, outputs=outputs)
            while True:
                result, error, arrived = responses.get(timeout=timeout)
                if error is not None:
                    raise error
                answer.results.append(result)
                answer.arrivals.append(arrived - started)
                if is_final(result):
                    return answer
        finally:
            client.stop_stream(cancel_requests=True)


def stream_many(
    url: str, model: str, requests: list[list[grpc.InferInput]], outputs: Any = None, timeout: float = 300
) -> list[Answer | Exception]:
    """Send several requests back to back on one stream (so Triton can hand them to one execute()),
    collect each one's responses. An error response carries no request id: it is given to a
    request left without a final answer (exact when one request fails)."""
    responses: queue.Queue[tuple[Any, Any]] = queue.Queue()
    answers: list[Answer | Exception] = [Answer() for _ in requests]
    pending = set(range(len(requests)))
    errors: list[Exception] = []
    with grpc.InferenceServerClient(url) as client:
        client.start_stream(callback=lambda result, error: responses.put((result, error)), stream_timeout=timeout)
        try:
            for index, inputs in enumerate(requests):
                client.async_stream_infer(model, inputs, outputs=outputs, request_id=str(index))
            while len(pending) > len(errors):
                result, error = responses.get(timeout=timeout)
                if error is not None:
                    errors.append(error)
                    continue
                index = int(result.get_response().id)
                answer = answers[index]
                assert isinstance(answer, Answer)
                answer.results.append(result)
                if is_final(result):
                    pending.discard(index)
        finally:
            client.stop_stream(cancel_requests=True)
    for index, error in zip(sorted(pending), errors, strict=True):
        answers[index] = error
    return answers


class StreamingClient:
    """`infer` for a decoupled model: one request, its final response (the only one without STREAM)."""

    def __init__(self, url: str):
        self.url = url

    def infer(self, model: str, inputs: list[grpc.InferInput], outputs: Any = None) -> grpc.InferResult:
        return stream(self.url, model, inputs, outputs).results[-1]

    def get_inference_statistics(self, model: str, **kwargs: Any) -> Any:
        with grpc.InferenceServerClient(self.url) as client:
            return client.get_inference_statistics(model, **kwargs)
