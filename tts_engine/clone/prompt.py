"""Voice-clone prompts as plain arrays: what a client stores and sends back instead of the reference.

A prompt is what qwen-tts derives from a reference clip: the reference speech codes (frames x
code groups, ICL mode; absent in x-vector-only mode) and the speaker embedding. On the wire:
`REF_CODE` int64 [1, frames, G] and `REF_SPK_EMBEDDING` float32 [1, D]. A stored prompt comes from
outside the process, so every shape, dtype and value is checked here: a bad one is the request's
`RequestError`, never a crash inside a batched `generate_voice_clone` call.

Parsing and checking are numpy only; the conversions to and from qwen-tts' `VoiceClonePromptItem`
import torch and qwen-tts when called.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from tts_engine.clone.reference_audio import MAX_SECONDS, MODEL_SAMPLE_RATE
from tts_engine.errors import RequestError

if TYPE_CHECKING:
    from qwen_tts.inference.qwen3_tts_model import VoiceClonePromptItem

# The 12 Hz codec: 1920 samples of 24 kHz audio per frame.
SAMPLES_PER_FRAME = 1920
# The longest reference accepted (reference_audio.MAX_SECONDS) encodes to this many frames.
MAX_REF_FRAMES = math.ceil(MAX_SECONDS * MODEL_SAMPLE_RATE / SAMPLES_PER_FRAME)


@dataclass(frozen=True)
class PromptSpec:
    """What a prompt must match to be used with one loaded Base model."""

    num_code_groups: int
    codebook_size: int
    embedding_dim: int


@dataclass(frozen=True, eq=False)
class ClonePrompt:
    """One voice-clone prompt. `ref_code` (frames, G) int64, None in x-vector-only mode; `spk_embedding` (D,)."""

    ref_code: np.ndarray | None
    spk_embedding: np.ndarray

    @property
    def icl(self) -> bool:
        return self.ref_code is not None


def prompt_spec(model: Any) -> PromptSpec:
    """Read the prompt shape a `Qwen3TTSModel` (Base) expects from its configuration."""
    config = model.model.config
    talker = config.talker_config
    return PromptSpec(
        num_code_groups=int(talker.num_code_groups),
        codebook_size=int(talker.code_predictor_config.vocab_size),
        embedding_dim=int(config.speaker_encoder_config.enc_dim),
    )


def _drop_batch_dim(array: np.ndarray, name: str, ndim: int) -> np.ndarray:
    """Accept the per-request shape with its leading batch dimension of 1, or without it."""
    if array.ndim == ndim + 1:
        if array.shape[0] != 1:
            raise RequestError(f"{name} must carry one prompt (leading dimension 1), got shape {list(array.shape)}")
        array = array[0]
    if array.ndim != ndim:
        raise RequestError(f"{name} must have {ndim + 1} dimensions [1, ...], got shape {list(array.shape)}")
    return array


def parse_embedding(value: Any) -> np.ndarray:
    array = _drop_batch_dim(np.asarray(value), "REF_SPK_EMBEDDING", 1)
    if not np.issubdtype(array.dtype, np.floating):
        raise RequestError(f"REF_SPK_EMBEDDING must be float32, got {array.dtype}")
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise RequestError("REF_SPK_EMBEDDING must be non-empty and finite")
    return np.ascontiguousarray(array, dtype=np.float32)


def parse_codes(value: Any) -> np.ndarray | None:
    """(frames, G) int64, or None for zero frames (the x-vector-only prompt's empty REF_CODE)."""
    array = _drop_batch_dim(np.asarray(value), "REF_CODE", 2)
    if not np.issubdtype(array.dtype, np.integer):
        raise RequestError(f"REF_CODE must be int64, got {array.dtype}")
    if array.shape[0] == 0:
        return None
    if array.shape[0] > MAX_REF_FRAMES:
        raise RequestError(f"REF_CODE has {array.shape[0]} frames; at most {MAX_REF_FRAMES} ({MAX_SECONDS:.0f} s)")
    return np.ascontiguousarray(array, dtype=np.int64)


def parse_prompt(ref_code: Any | None, spk_embedding: Any) -> ClonePrompt:
    """A stored prompt from its two tensors (REF_CODE may be absent); checks what needs no model."""
    return ClonePrompt(
        ref_code=None if ref_code is None else parse_codes(ref_code),
        spk_embedding=parse_embedding(spk_embedding),
    )


def check_prompt(prompt: ClonePrompt, spec: PromptSpec) -> None:
    """Raise RequestError unless the prompt fits the loaded model (dims and code range)."""
    dim = prompt.spk_embedding.shape[0]
    if dim != spec.embedding_dim:
        raise RequestError(f"REF_SPK_EMBEDDING has dimension {dim}; this model's is {spec.embedding_dim}")
    if prompt.ref_code is None:
        return
    groups = prompt.ref_code.shape[1]
    if groups != spec.num_code_groups:
        raise RequestError(
            f"REF_CODE has {groups} code groups; this model needs {spec.num_code_groups} "
            f"(shape [1, frames, {spec.num_code_groups}])"
        )
    low, high = int(prompt.ref_code.min()), int(prompt.ref_code.max())
    if low < 0 or high >= spec.codebook_size:
        raise RequestError(f"REF_CODE values must be in 0..{spec.codebook_size - 1}, got {low}..{high}")


def to_prompt_item(prompt: ClonePrompt, ref_text: str | None) -> VoiceClonePromptItem:
    """The qwen-tts prompt item for `generate_voice_clone(voice_clone_prompt=[...])` (CPU tensors)."""
    import torch
    from qwen_tts.inference.qwen3_tts_model import VoiceClonePromptItem

    if prompt.icl and not ref_text:
        raise RequestError("REF_TEXT is required with REF_CODE (an ICL prompt continues its transcript)")
    return VoiceClonePromptItem(
        ref_code=None if prompt.ref_code is None else torch.from_numpy(prompt.ref_code.copy()),
        ref_spk_embedding=torch.from_numpy(prompt.spk_embedding.copy()),
        x_vector_only_mode=not prompt.icl,
        icl_mode=prompt.icl,
        ref_text=ref_text if prompt.icl else None,
    )


def from_prompt_item(item: VoiceClonePromptItem) -> ClonePrompt:
    """Plain arrays from a prompt item built by `create_voice_clone_prompt` (any device or dtype)."""
    import torch

    code = None
    if item.icl_mode and item.ref_code is not None:
        code = item.ref_code.detach().to("cpu", torch.int64).numpy().copy()
    embedding = item.ref_spk_embedding.detach().to("cpu", torch.float32).numpy().reshape(-1).copy()
    return ClonePrompt(ref_code=code, spk_embedding=embedding)


def prompt_outputs(prompt: ClonePrompt, num_code_groups: int) -> dict[str, np.ndarray]:
    """A prompt-only response's tensors, batch dimension first; REF_CODE is [1, 0, G] without codes."""
    code = np.zeros((0, num_code_groups), np.int64) if prompt.ref_code is None else prompt.ref_code
    return {
        "REF_CODE": np.ascontiguousarray(code, dtype=np.int64)[np.newaxis],
        "REF_SPK_EMBEDDING": np.ascontiguousarray(prompt.spk_embedding, dtype=np.float32).reshape(1, -1),
    }
