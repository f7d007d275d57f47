"""Every tensor a TTS model takes and gives: the one source of config.pbtxt, packing and parsing.

Each tensor carries a leading batch dimension of 1 on the wire (Triton's dynamic batcher stacks
requests); `dims` here are the per-request dimensions written in config.pbtxt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tts_contract.models import Variant

ALL = frozenset(Variant)
CLONE = frozenset({Variant.VOICE_CLONE})


@dataclass(frozen=True)
class DType:
    wire: str
    """tritonclient's datatype name."""
    config: str
    """config.pbtxt's data_type."""
    numpy: type

    @property
    def is_bytes(self) -> bool:
        return self.wire == "BYTES"


STRING = DType("BYTES", "TYPE_STRING", np.object_)
FP32 = DType("FP32", "TYPE_FP32", np.float32)
INT32 = DType("INT32", "TYPE_INT32", np.int32)
INT64 = DType("INT64", "TYPE_INT64", np.int64)
BOOL = DType("BOOL", "TYPE_BOOL", np.bool_)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    field: str
    """The attribute the value has on both sides (the API's SynthesisCall, the engine's parser)."""
    dtype: DType
    dims: tuple[int, ...] = (1,)
    variants: frozenset[Variant] = ALL
    """Models that take this input (or give this output)."""
    required: frozenset[Variant] = frozenset()
    """Models for which config.pbtxt marks it non-optional."""

    @property
    def scalar(self) -> bool:
        return self.dims == (1,)


INPUTS: tuple[TensorSpec, ...] = (
    # A voice clone PROMPT_ONLY request has no TEXT; every other request needs it.
    TensorSpec("TEXT", "text", STRING, required=frozenset({Variant.CUSTOM_VOICE, Variant.VOICE_DESIGN})),
    TensorSpec("LANGUAGE", "language", STRING),
    TensorSpec("SPEAKER", "speaker", STRING, variants=frozenset({Variant.CUSTOM_VOICE})),
    TensorSpec("INSTRUCT", "instruct", STRING, variants=frozenset({Variant.CUSTOM_VOICE, Variant.VOICE_DESIGN})),
    TensorSpec("REF_AUDIO", "ref_audio", FP32, dims=(-1,), variants=CLONE),
    TensorSpec("REF_SAMPLE_RATE", "ref_sample_rate", INT32, variants=CLONE),
    TensorSpec("REF_TEXT", "ref_text", STRING, variants=CLONE),
    TensorSpec("X_VECTOR_ONLY", "x_vector_only", BOOL, variants=CLONE),
    # Persistent cloned voices: PROMPT_ONLY answers with the prompt built from the reference; a
    # stored prompt (REF_CODE [frames, G], absent in x-vector-only mode, and REF_SPK_EMBEDDING [D])
    # replaces REF_AUDIO so the reference is never encoded again.
    TensorSpec("PROMPT_ONLY", "prompt_only", BOOL, variants=CLONE),
    TensorSpec("REF_CODE", "ref_code", INT64, dims=(-1, -1), variants=CLONE),
    TensorSpec("REF_SPK_EMBEDDING", "ref_spk_embedding", FP32, dims=(-1,), variants=CLONE),
    TensorSpec("TEMPERATURE", "temperature", FP32),
    TensorSpec("TOP_K", "top_k", INT32),
    TensorSpec("TOP_P", "top_p", FP32),
    TensorSpec("REPETITION_PENALTY", "repetition_penalty", FP32),
    TensorSpec("MAX_NEW_TOKENS", "max_new_tokens", INT32),
    # Seeds the row's own noise: the same seed gives the same audio whatever shares the batch.
    TensorSpec("SEED", "seed", INT64),
    # STREAM true: audio chunks are sent as frames are decoded, then a final response.
    TensorSpec("STREAM", "stream", BOOL),
    # PROBE true: a health probe, answered by execute() at once with SAMPLE_RATE (or an `unhealthy`
    # error when the model's generation loop has stopped); nothing is generated. The API sends it
    # to tell a dead backend process (every call fails, Triton still says READY) from a slow one.
    TensorSpec("PROBE", "probe", BOOL),
)

OUTPUTS: tuple[TensorSpec, ...] = (
    TensorSpec("AUDIO", "audio", FP32, dims=(-1,)),
    TensorSpec("SAMPLE_RATE", "sample_rate", INT32),
    # A prompt-only response carries these instead of the audio; clients request what they need.
    TensorSpec("REF_CODE", "ref_code", INT64, dims=(-1, -1), variants=CLONE),
    TensorSpec("REF_SPK_EMBEDDING", "ref_spk_embedding", FP32, dims=(-1,), variants=CLONE),
)

INPUT_BY_NAME = {spec.name: spec for spec in INPUTS}
INPUT_BY_FIELD = {spec.field: spec for spec in INPUTS}
OUTPUT_BY_NAME = {spec.name: spec for spec in OUTPUTS}


def inputs_of(variant: Variant) -> tuple[TensorSpec, ...]:
    return tuple(spec for spec in INPUTS if variant in spec.variants)


def outputs_of(variant: Variant) -> tuple[TensorSpec, ...]:
    return tuple(spec for spec in OUTPUTS if variant in spec.variants)
