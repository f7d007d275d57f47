"""Packing one synthesis call into Triton input tensors (names match model_repository/ configs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from tritonclient.grpc import InferInput


@dataclass(frozen=True, eq=False)
class ClonePrompt:
    """A voice-clone prompt computed by a Base model from reference audio, stored and sent back
    instead of the audio. `ref_code` int64 (frames, code groups), None in x-vector-only mode;
    `ref_spk_embedding` float32 (dim,)."""

    ref_code: np.ndarray | None
    ref_spk_embedding: np.ndarray
    x_vector_only: bool


@dataclass(frozen=True)
class SynthesisCall:
    """One row for a TTS model on Triton; None fields are not sent (the model's defaults apply).

    Voice clone takes either raw reference audio (`ref_audio`, `ref_sample_rate`) or a stored
    prompt (`ref_code`, `ref_spk_embedding`). `prompt_only` asks for the prompt instead of audio
    (then `text` and `language` are None: nothing is synthesized)."""

    text: str | None
    language: str | None
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
    seed: int | None = None
    """Seeds the row's own random stream on the engine: the same seed, the same audio."""
    ref_code: np.ndarray | None = None
    ref_spk_embedding: np.ndarray | None = None
    prompt_only: bool | None = None


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
    "SEED": ("seed", np.int64, "INT64"),
    "REF_SAMPLE_RATE": ("ref_sample_rate", np.int32, "INT32"),
    "X_VECTOR_ONLY": ("x_vector_only", np.bool_, "BOOL"),
    "PROMPT_ONLY": ("prompt_only", np.bool_, "BOOL"),
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
    if call.ref_code is not None:  # (frames, groups) -> [1, frames, groups]
        inputs.append(_tensor("REF_CODE", np.ascontiguousarray(call.ref_code, dtype=np.int64)[np.newaxis], "INT64"))
    if call.ref_spk_embedding is not None:
        embedding = np.ascontiguousarray(call.ref_spk_embedding, dtype=np.float32).reshape(1, -1)
        inputs.append(_tensor("REF_SPK_EMBEDDING", embedding, "FP32"))
    return inputs


def prompt_call(prompt: ClonePrompt) -> dict[str, Any]:
    """The SynthesisCall fields that send a stored prompt; no codes means x-vector-only mode."""
    codes = None if prompt.x_vector_only else prompt.ref_code
    return {"ref_code": codes, "ref_spk_embedding": prompt.ref_spk_embedding}


def read_clone_prompt(
    ref_code: np.ndarray | None, spk_embedding: np.ndarray | None, *, x_vector_only: bool
) -> ClonePrompt:
    """Turn a PROMPT_ONLY answer ([1, frames, G] codes, [1, dim] embedding) into a ClonePrompt."""
    if spk_embedding is None or spk_embedding.size == 0:
        raise ValueError("no REF_SPK_EMBEDDING")
    embedding = np.asarray(spk_embedding, dtype=np.float32).reshape(-1)
    if x_vector_only:  # the model answers [1, 0, G]: there are no reference codes in this mode
        return ClonePrompt(ref_code=None, ref_spk_embedding=embedding, x_vector_only=True)
    if ref_code is None or ref_code.ndim != 3 or ref_code.shape[0] != 1 or ref_code.shape[1] == 0:
        shape = None if ref_code is None else list(ref_code.shape)
        raise ValueError(f"REF_CODE of shape {shape}, expected [1, frames > 0, groups]")
    codes = np.ascontiguousarray(ref_code[0], dtype=np.int64)
    return ClonePrompt(ref_code=codes, ref_spk_embedding=embedding, x_vector_only=False)
