"""Packing one synthesis call into Triton input tensors (names match model_repository/ configs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tritonclient.grpc import InferInput


@dataclass(frozen=True)
class SynthesisCall:
    """One row for a TTS model on Triton; None fields are not sent (the model's defaults apply)."""

    text: str
    language: str
    speaker: str | None = None
    instruct: str | None = None
    ref_audio: np.ndarray | None = None
    ref_sample_rate: int | None = None
    ref_text: str | None = None
    x_vector_only: bool | None = None
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    max_new_tokens: int | None = None


_STRINGS = {
    "TEXT": "text",
    "LANGUAGE": "language",
    "SPEAKER": "speaker",
    "INSTRUCT": "instruct",
    "REF_TEXT": "ref_text",
}
_SCALARS = {
    "TEMPERATURE": ("temperature", np.float32, "FP32"),
    "TOP_K": ("top_k", np.int32, "INT32"),
    "TOP_P": ("top_p", np.float32, "FP32"),
    "REPETITION_PENALTY": ("repetition_penalty", np.float32, "FP32"),
    "MAX_NEW_TOKENS": ("max_new_tokens", np.int32, "INT32"),
    "REF_SAMPLE_RATE": ("ref_sample_rate", np.int32, "INT32"),
    "X_VECTOR_ONLY": ("x_vector_only", np.bool_, "BOOL"),
}


def _tensor(name: str, array: np.ndarray, dtype: str) -> InferInput:
    tensor = InferInput(name, list(array.shape), dtype)
    tensor.set_data_from_numpy(array)
    return tensor


def build_inputs(call: SynthesisCall) -> list[InferInput]:
    """Every tensor has a leading batch dimension of 1: Triton's dynamic batcher stacks requests."""
    inputs: list[InferInput] = []
    for name, attr in _STRINGS.items():
        value = getattr(call, attr)
        if value is not None:
            inputs.append(_tensor(name, np.array([[value.encode("utf-8")]], dtype=np.object_), "BYTES"))
    for name, (attr, np_type, dtype) in _SCALARS.items():
        value = getattr(call, attr)
        if value is not None:
            inputs.append(_tensor(name, np.array([[value]], dtype=np_type), dtype))
    if call.ref_audio is not None:
        inputs.append(_tensor("REF_AUDIO", np.asarray(call.ref_audio, dtype=np.float32).reshape(1, -1), "FP32"))
    return inputs
