"""One synthesis call as Triton input tensors, packed by the wire contract (`tts_contract.wire`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from tritonclient.grpc import InferInput

from tts_contract.sampling import SamplingFields
from tts_contract.tensors import INPUT_BY_NAME
from tts_contract.wire import pack


@dataclass(frozen=True, eq=False)
class ClonePrompt:
    """A voice-clone prompt computed by a Base model from reference audio, stored and sent back
    instead of the audio. `ref_code` int64 (frames, code groups), None in x-vector-only mode;
    `ref_spk_embedding` float32 (dim,)."""

    ref_code: np.ndarray | None
    ref_spk_embedding: np.ndarray
    x_vector_only: bool


@dataclass(frozen=True, kw_only=True)
class SynthesisCall(SamplingFields):
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
    ref_code: np.ndarray | None = None
    ref_spk_embedding: np.ndarray | None = None
    prompt_only: bool | None = None
    stream: bool | None = None
    """Ask for audio chunks as frames are decoded, then a final response."""
    probe: bool | None = None
    """A health probe: the model answers SAMPLE_RATE at once, generating nothing."""


def call_arrays(call: SynthesisCall) -> dict[str, np.ndarray]:
    """Tensor name -> array of every field that is set, each with a leading batch dimension of 1
    (Triton's dynamic batcher stacks requests)."""
    return pack({f.name: getattr(call, f.name) for f in fields(call)})


def build_inputs(call: SynthesisCall) -> list[InferInput]:
    inputs: list[InferInput] = []
    for name, array in call_arrays(call).items():
        tensor = InferInput(name, list(array.shape), INPUT_BY_NAME[name].dtype.wire)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
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
