"""Conversion between Triton tensors and domain values: pure functions, no Triton, no torch.

A request arrives as a mapping of input name to numpy array (None when the optional input is
absent); with `max_batch_size > 0` every array carries a leading batch dimension of 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tts_contract import limits
from tts_contract.models import SAMPLE_RATE, Variant
from tts_contract.sampling import SamplingFields
from tts_contract.wire import WireError, output, unpack
from tts_engine.clone.prompt import ClonePrompt, parse_prompt
from tts_engine.errors import RequestError

Inputs = Mapping[str, Any]
"""A request's values by contract field name (`tts_contract.wire.unpack`): absent inputs are missing."""


@dataclass(frozen=True, kw_only=True)
class SamplingParams(SamplingFields):
    """Sampling settings of one request (the contract's fields). Hashable: requests with equal
    settings can share one `generate_*` call; the grouped engine generates a seeded row alone,
    after torch.manual_seed."""

    def generate_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.temperature is not None:
            # temperature 0 means greedy decoding: HF refuses a temperature of 0 with sampling on.
            if self.temperature == 0.0:
                kwargs["do_sample"] = False
            else:
                kwargs["temperature"] = self.temperature
        for name in ("top_k", "top_p", "repetition_penalty", "max_new_tokens"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        return kwargs


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    language: str
    speaker: str | None = None
    instruct: str | None = None
    ref_audio: np.ndarray | None = field(default=None, compare=False, repr=False)
    ref_sample_rate: int | None = None
    ref_text: str | None = None
    x_vector_only: bool = False
    sampling: SamplingParams = SamplingParams()
    prompt_only: bool = False
    """Voice clone: build the prompt from the reference and answer with it (no TEXT, no audio)."""
    prompt: ClonePrompt | None = field(default=None, compare=False, repr=False)
    """Voice clone: a stored prompt sent back by the client instead of reference audio."""


def read_inputs(arrays: Mapping[str, np.ndarray | None]) -> Inputs:
    """A request's tensors as values (the contract's wire format); a malformed tensor is the request's error."""
    try:
        return unpack(arrays)
    except WireError as exc:
        raise RequestError(str(exc)) from exc


def _number(inputs: Inputs, field: str, bounds: limits.Range) -> float | None:
    value = inputs.get(field)
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number) or number not in bounds:
        raise RequestError(f"{field.upper()} must be between {bounds.low} and {bounds.high}, got {number}")
    return number


def _integer(inputs: Inputs, field: str, bounds: limits.Range) -> int | None:
    number = _number(inputs, field, bounds)
    return None if number is None else int(inputs[field])


def parse_sampling(inputs: Inputs) -> SamplingParams:
    return SamplingParams(
        temperature=_number(inputs, "temperature", limits.TEMPERATURE),
        top_k=_integer(inputs, "top_k", limits.TOP_K),
        top_p=_number(inputs, "top_p", limits.TOP_P),
        repetition_penalty=_number(inputs, "repetition_penalty", limits.REPETITION_PENALTY),
        max_new_tokens=_integer(inputs, "max_new_tokens", limits.MAX_NEW_TOKENS),
        seed=_seed(inputs),
    )


def _seed(inputs: Inputs) -> int | None:
    value = inputs.get("seed")
    if value is None:
        return None
    seed = int(value)
    if seed not in limits.SEED:
        raise RequestError(f"SEED must be between 0 and {limits.SEED.high}, got {seed}")
    return seed


def wants_stream(arrays: Mapping[str, np.ndarray | None]) -> bool:
    """STREAM: send audio chunks as frames are decoded, then a final response (a malformed STREAM
    tensor is refused by `parse_request`; the refusal is then sent as one final response)."""
    return _flag_input(arrays, "stream")


def is_probe(arrays: Mapping[str, np.ndarray | None]) -> bool:
    """PROBE: a health probe, answered at once without parsing or generating anything."""
    return arrays.get("PROBE") is not None and _flag_input(arrays, "probe")


def _flag_input(arrays: Mapping[str, np.ndarray | None], field: str) -> bool:
    try:
        return bool(read_inputs(arrays).get(field, False))
    except RequestError:
        return False


def _text(inputs: Inputs, field: str) -> str | None:
    value = inputs.get(field)
    if value is not None and len(value) > limits.MAX_TEXT_CHARS:
        raise RequestError(f"{field.upper()} is longer than {limits.MAX_TEXT_CHARS} characters")
    return value


def _required_text(inputs: Inputs, field: str) -> str:
    value = _text(inputs, field)
    if value is None or not value.strip():
        raise RequestError(f"{field.upper()} is required and must not be empty")
    return value


def _reference(inputs: Inputs) -> tuple[np.ndarray, int]:
    audio, rate = inputs.get("ref_audio"), inputs.get("ref_sample_rate")
    if audio is None or rate is None:
        raise RequestError(
            "REF_AUDIO and REF_SAMPLE_RATE are required for voice cloning (or a stored prompt: REF_SPK_EMBEDDING)"
        )
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if samples.size == 0 or not np.all(np.isfinite(samples)):
        raise RequestError("REF_AUDIO must be non-empty and finite")
    if int(rate) not in limits.REF_SAMPLE_RATE:
        low, high = int(limits.REF_SAMPLE_RATE.low), int(limits.REF_SAMPLE_RATE.high)
        raise RequestError(f"REF_SAMPLE_RATE {int(rate)} is outside {low}..{high} Hz")
    return samples, int(rate)


def parse_request(arrays: Mapping[str, np.ndarray | None], variant: Variant) -> SynthesisRequest:
    """Validate one request's tensors for `variant`; raise RequestError naming the bad input."""
    return parse_values(read_inputs(arrays), variant)


def parse_values(inputs: Inputs, variant: Variant) -> SynthesisRequest:
    """Validate one request's values (`read_inputs`) for `variant`."""
    language = (_text(inputs, "language") or "Auto").strip() or "Auto"
    sampling = parse_sampling(inputs)
    if variant is Variant.VOICE_CLONE:
        return _parse_clone(inputs, language, sampling)
    text = _required_text(inputs, "text")
    if variant is Variant.CUSTOM_VOICE:
        instruct = (_text(inputs, "instruct") or "").strip() or None
        return SynthesisRequest(
            text=text,
            language=language,
            speaker=_required_text(inputs, "speaker"),
            instruct=instruct,
            sampling=sampling,
        )
    instruct = _required_text(inputs, "instruct")
    return SynthesisRequest(text=text, language=language, instruct=instruct, sampling=sampling)


def _flag(inputs: Inputs, field: str) -> bool:
    return bool(inputs.get(field, False))


def _stored_prompt(inputs: Inputs, prompt_only: bool) -> ClonePrompt | None:
    """The stored prompt a request sends back instead of reference audio, or None."""
    code, embedding = inputs.get("ref_code"), inputs.get("ref_spk_embedding")
    if embedding is None:
        if code is not None:
            raise RequestError("REF_CODE needs REF_SPK_EMBEDDING: a stored prompt always carries its speaker embedding")
        return None
    if inputs.get("ref_audio") is not None:
        raise RequestError(
            "REF_AUDIO and REF_SPK_EMBEDDING are mutually exclusive: send reference audio or a stored prompt, not both"
        )
    if prompt_only:
        raise RequestError("PROMPT_ONLY builds a prompt from REF_AUDIO; it cannot take REF_SPK_EMBEDDING")
    prompt = parse_prompt(code, embedding)
    if prompt.icl and _flag(inputs, "x_vector_only"):
        raise RequestError("X_VECTOR_ONLY is true but REF_CODE carries reference codes (an ICL prompt)")
    return prompt


def _parse_clone(inputs: Inputs, language: str, sampling: SamplingParams) -> SynthesisRequest:
    """Voice clone: raw reference audio, or a stored prompt, or PROMPT_ONLY (build the prompt only)."""
    prompt_only = _flag(inputs, "prompt_only")
    stored = _stored_prompt(inputs, prompt_only)
    text = "" if prompt_only else _required_text(inputs, "text")
    if stored is not None:
        return SynthesisRequest(
            text=text,
            language=language,
            ref_text=_required_text(inputs, "ref_text") if stored.icl else None,
            x_vector_only=not stored.icl,
            prompt=stored,
            sampling=sampling,
        )
    samples, rate = _reference(inputs)
    x_vector_only = _flag(inputs, "x_vector_only")
    return SynthesisRequest(
        text=text,
        language=language,
        ref_audio=samples,
        ref_sample_rate=rate,
        ref_text=None if x_vector_only else _required_text(inputs, "ref_text"),
        x_vector_only=x_vector_only,
        prompt_only=prompt_only,
        sampling=sampling,
    )


def audio_outputs(wav: np.ndarray, sample_rate: int = SAMPLE_RATE) -> dict[str, np.ndarray]:
    """One response's output tensors, with the leading batch dimension of 1."""
    return {"AUDIO": output("AUDIO", wav), "SAMPLE_RATE": output("SAMPLE_RATE", sample_rate)}
