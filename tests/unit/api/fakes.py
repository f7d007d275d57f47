"""Test doubles of the API unit tests: a fake Triton gateway and a reference recording."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import soundfile as sf

from api.inference.model_health import ModelHealth
from api.inference.tensors import ClonePrompt, SynthesisCall

GROUPS, DIM = 4, 8


def wav_bytes(seconds: float = 1.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


class FakeTriton:
    """Stands in for TritonGateway: records every call, answers like the tiny checkpoints would."""

    def __init__(self) -> None:
        self.weights = {"voice_clone_1_7b": "/w/1.7B-Base", "voice_clone_0_6b": "/w/0.6B-Base"}
        self.prompt_calls: list[dict[str, Any]] = []
        self.synth_calls: list[tuple[str, SynthesisCall]] = []
        self.models = ModelHealth()

    async def ensure_loaded(self, model: str, **_: Any) -> None:
        return None

    async def engine_info(self) -> dict[str, Any]:
        return {"models": {name: {"weights": weights} for name, weights in self.weights.items()}}

    async def create_clone_prompt(self, model: str, **kwargs: Any) -> ClonePrompt:
        self.prompt_calls.append({"model": model, **kwargs})
        frames = 0 if kwargs["x_vector_only"] else 5
        codes = None if kwargs["x_vector_only"] else np.arange(frames * GROUPS, dtype=np.int64).reshape(frames, GROUPS)
        return ClonePrompt(codes, np.full(DIM, len(self.prompt_calls), np.float32), kwargs["x_vector_only"])

    async def synthesize(self, model: str, call: SynthesisCall) -> tuple[np.ndarray, int]:
        self.synth_calls.append((model, call))
        return np.zeros(2400, np.float32), 24000

    async def close(self) -> None:
        return None
