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

from tts_engine.clone.prompt import ClonePrompt, parse_prompt
from tts_engine.config import Variant
from tts_engine.errors import RequestError

MAX_TEXT_CHARS = 20_000
# Generation limit in codec frames (80 ms each): 4096 frames is about 5.5 minutes of audio.
MAX_NEW_TOKENS_LIMIT = 4096


@dataclass(frozen=True)
class SamplingParams:
    """Sampling settings of one request. None means the checkpoint's own default.

    Hashable: requests with equal settings can share one `generate_*` call.
    """

    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    max_new_tokens: int | None = None
    seed: int | None = None
    """Seeds this row's own random stream: the same seed, the same audio, whoever shares the batch
    (the grouped engine generates a seeded row alone, after torch.manual_seed). None: a fresh
    random seed."""

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


def _first(array: np.ndarray | None) -> Any:
    if array is None:
        return None
    flat = np.asarray(array).reshape(-1)
    return flat[0] if flat.size else None


def _text(inputs: Mapping[str, np.ndarray | None], name: str) -> str | None:
    value = _first(inputs.get(name))
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RequestError(f"{name} is not valid UTF-8") from exc
    return str(value)


def _number(inputs: Mapping[str, np.ndarray | None], name: str, low: float, high: float) -> float | None:
    value = _first(inputs.get(name))
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number) or not low <= number <= high:
        raise RequestError(f"{name} must be between {low} and {high}, got {number}")
    return number


def parse_sampling(inputs: Mapping[str, np.ndarray | None]) -> SamplingParams:
    top_k = _number(inputs, "TOP_K", 0, 10_000)
    max_new = _number(inputs, "MAX_NEW_TOKENS", 2, MAX_NEW_TOKENS_LIMIT)  # qwen-tts needs >= 2 (min_new_tokens)
    return SamplingParams(
        temperature=_number(inputs, "TEMPERATURE", 0.0, 2.0),
        top_k=None if top_k is None else int(top_k),
        top_p=_number(inputs, "TOP_P", 0.0, 1.0),
        repetition_penalty=_number(inputs, "REPETITION_PENALTY", 0.5, 2.0),
        max_new_tokens=None if max_new is None else int(max_new),
        seed=_seed(inputs),
    )


def _seed(inputs: Mapping[str, np.ndarray | None]) -> int | None:
    value = _first(inputs.get("SEED"))
    if value is None:
        return None
    seed = int(value)
    if not 0 <= seed < 2**63:
        raise RequestError(f"SEED must be between 0 and {2**63 - 1}, got {seed}")
    return seed


def wants_stream(inputs: Mapping[str, np.ndarray | None]) -> bool:
    """STREAM: send audio chunks as frames are decoded, then a final response."""
    return bool(_first(inputs.get("STREAM")) or False)


def _required_text(inputs: Mapping[str, np.ndarray | None], name: str) -> str:
    value = _text(inputs, name)
    if value is None or not value.strip():
        raise RequestError(f"{name} is required and must not be empty")
    if len(value) > MAX_TEXT_CHARS:
        raise RequestError(f"{name} is longer than {MAX_TEXT_CHARS} characters")
    return value


def _reference(inputs: Mapping[str, np.ndarray | None]) -> tuple[np.ndarray, int]:
    audio = inputs.get("REF_AUDIO")
    rate = _first(inputs.get("REF_SAMPLE_RATE"))
    if audio is None or rate is None:
        raise RequestError(
            "REF_AUDIO and REF_SAMPLE_RATE are required for voice cloning (or a stored prompt: REF_SPK_EMBEDDING)"
        )
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if samples.size == 0 or not np.all(np.isfinite(samples)):
        raise RequestError("REF_AUDIO must be non-empty and finite")
    if not 8_000 <= int(rate) <= 192_000:
        raise RequestError(f"REF_SAMPLE_RATE {int(rate)} is outside 8000..192000 Hz")
    return samples, int(rate)


def parse_request(inputs: Mapping[str, np.ndarray | None], variant: Variant) -> SynthesisRequest:
    """Validate one request's tensors for `variant`; raise RequestError naming the bad input."""
    language = (_text(inputs, "LANGUAGE") or "Auto").strip() or "Auto"
    sampling = parse_sampling(inputs)
    if variant is Variant.VOICE_CLONE:
        return _parse_clone(inputs, language, sampling)
    text = _required_text(inputs, "TEXT")
    if variant is Variant.CUSTOM_VOICE:
        instruct = (_text(inputs, "INSTRUCT") or "").strip() or None
        return SynthesisRequest(
            text=text,
            language=language,
            speaker=_required_text(inputs, "SPEAKER"),
            instruct=instruct,
            sampling=sampling,
        )
    instruct = _required_text(inputs, "INSTRUCT")
    return SynthesisRequest(text=text, language=language, instruct=instruct, sampling=sampling)


def _flag(inputs: Mapping[str, np.ndarray | None], name: str) -> bool:
    return bool(_first(inputs.get(name)) or False)


def _stored_prompt(inputs: Mapping[str, np.ndarray | None], prompt_only: bool) -> ClonePrompt | None:
    """The stored prompt a request sends back instead of reference audio, or None."""
    code, embedding = inputs.get("REF_CODE"), inputs.get("REF_SPK_EMBEDDING")
    if embedding is None:
        if code is not None:
            raise RequestError("REF_CODE needs REF_SPK_EMBEDDING: a stored prompt always carries its speaker embedding")
        return None
    if inputs.get("REF_AUDIO") is not None:
        raise RequestError(
            "REF_AUDIO and REF_SPK_EMBEDDING are mutually exclusive: send reference audio or a stored prompt, not both"
        )
    if prompt_only:
        raise RequestError("PROMPT_ONLY builds a prompt from REF_AUDIO; it cannot take REF_SPK_EMBEDDING")
    prompt = parse_prompt(code, embedding)
    if prompt.icl and _flag(inputs, "X_VECTOR_ONLY"):
        raise RequestError("X_VECTOR_ONLY is true but REF_CODE carries reference codes (an ICL prompt)")
    return prompt


def _parse_clone(inputs: Mapping[str, np.ndarray | None], language: str, sampling: SamplingParams) -> SynthesisRequest:
    """Voice clone: raw reference audio, or a stored prompt, or PROMPT_ONLY (build the prompt only)."""
    prompt_only = _flag(inputs, "PROMPT_ONLY")
    stored = _stored_prompt(inputs, prompt_only)
    text = "" if prompt_only else _required_text(inputs, "TEXT")
    if stored is not None:
        return SynthesisRequest(
            text=text,
            language=language,
            ref_text=_required_text(inputs, "REF_TEXT") if stored.icl else None,
            x_vector_only=not stored.icl,
            prompt=stored,
            sampling=sampling,
        )
    samples, rate = _reference(inputs)
    x_vector_only = _flag(inputs, "X_VECTOR_ONLY")
    return SynthesisRequest(
        text=text,
        language=language,
        ref_audio=samples,
        ref_sample_rate=rate,
        ref_text=None if x_vector_only else _required_text(inputs, "REF_TEXT"),
        x_vector_only=x_vector_only,
        prompt_only=prompt_only,
        sampling=sampling,
    )


def audio_outputs(wav: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """One response's output tensors, with the leading batch dimension of 1."""
    return {
        "AUDIO": np.asarray(wav, dtype=np.float32).reshape(1, -1),
        "SAMPLE_RATE": np.array([[sample_rate]], dtype=np.int32),
    }
