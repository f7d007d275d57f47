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

from tts_engine.config import Variant

MAX_TEXT_CHARS = 20_000
# Generation limit in codec frames (80 ms each): 4096 frames is about 5.5 minutes of audio.
MAX_NEW_TOKENS_LIMIT = 4096


class RequestError(ValueError):
    """One request is invalid; it gets its own error response and never fails its batch."""


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
    max_new = _number(inputs, "MAX_NEW_TOKENS", 1, MAX_NEW_TOKENS_LIMIT)
    return SamplingParams(
        temperature=_number(inputs, "TEMPERATURE", 0.0, 2.0),
        top_k=None if top_k is None else int(top_k),
        top_p=_number(inputs, "TOP_P", 0.0, 1.0),
        repetition_penalty=_number(inputs, "REPETITION_PENALTY", 0.5, 2.0),
        max_new_tokens=None if max_new is None else int(max_new),
    )


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
        raise RequestError("REF_AUDIO and REF_SAMPLE_RATE are required for voice cloning")
    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if samples.size == 0 or not np.all(np.isfinite(samples)):
        raise RequestError("REF_AUDIO must be non-empty and finite")
    if not 8_000 <= int(rate) <= 192_000:
        raise RequestError(f"REF_SAMPLE_RATE {int(rate)} is outside 8000..192000 Hz")
    return samples, int(rate)


def parse_request(inputs: Mapping[str, np.ndarray | None], variant: Variant) -> SynthesisRequest:
    """Validate one request's tensors for `variant`; raise RequestError naming the bad input."""
    text = _required_text(inputs, "TEXT")
    language = (_text(inputs, "LANGUAGE") or "Auto").strip() or "Auto"
    sampling = parse_sampling(inputs)
    if variant is Variant.CUSTOM_VOICE:
        instruct = (_text(inputs, "INSTRUCT") or "").strip() or None
        return SynthesisRequest(
            text=text,
            language=language,
            speaker=_required_text(inputs, "SPEAKER"),
            instruct=instruct,
            sampling=sampling,
        )
    if variant is Variant.VOICE_DESIGN:
        return SynthesisRequest(
            text=text, language=language, instruct=_required_text(inputs, "INSTRUCT"), sampling=sampling
        )
    samples, rate = _reference(inputs)
    x_vector_only = bool(_first(inputs.get("X_VECTOR_ONLY")) or False)
    ref_text = None if x_vector_only else _required_text(inputs, "REF_TEXT")
    return SynthesisRequest(
        text=text,
        language=language,
        ref_audio=samples,
        ref_sample_rate=rate,
        ref_text=ref_text,
        x_vector_only=x_vector_only,
        sampling=sampling,
    )


def audio_outputs(wav: np.ndarray, sample_rate: int) -> dict[str, np.ndarray]:
    """One response's output tensors, with the leading batch dimension of 1."""
    return {
        "AUDIO": np.asarray(wav, dtype=np.float32).reshape(1, -1),
        "SAMPLE_RATE": np.array([[sample_rate]], dtype=np.int32),
    }
