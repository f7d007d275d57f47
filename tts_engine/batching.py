"""Turn the N requests Triton hands to `execute()` into as few `generate_*` calls as possible.

qwen-tts takes text, speaker, language, instruct and reference audio per row, but sampling
settings per call: requests are grouped by their settings and each group is one batched call.
A failing group call is retried row by row, so one bad request gets its own error and never
fails its neighbours.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from tts_engine.config import Variant
from tts_engine.reference_audio import MODEL_SAMPLE_RATE, ReferenceAudioError, prepare_reference
from tts_engine.requests import RequestError, SamplingParams, SynthesisRequest

log = logging.getLogger(__name__)

Outcome = np.ndarray | Exception


class TTSModel(Protocol):
    """The part of `qwen_tts.Qwen3TTSModel` the engine uses."""

    def generate_custom_voice(
        self, text: Any, speaker: Any, language: Any = ..., instruct: Any = ..., **kw: Any
    ) -> Any: ...
    def generate_voice_design(self, text: Any, instruct: Any, language: Any = ..., **kw: Any) -> Any: ...
    def generate_voice_clone(self, text: Any, language: Any = ..., **kw: Any) -> Any: ...
    def get_supported_speakers(self) -> list[str] | None: ...
    def get_supported_languages(self) -> list[str] | None: ...


def check_supported(request: SynthesisRequest, speakers: set[str] | None, languages: set[str] | None) -> None:
    """Reject an unknown speaker or language before it can fail a whole batched call."""
    if languages is not None and request.language.lower() not in languages:
        raise RequestError(f"LANGUAGE {request.language!r} is not supported; supported: {sorted(languages)}")
    if request.speaker is not None and speakers is not None and request.speaker.lower() not in speakers:
        raise RequestError(f"SPEAKER {request.speaker!r} is not supported; supported: {sorted(speakers)}")


def group_by_sampling(items: Sequence[SynthesisRequest | Exception]) -> dict[SamplingParams, list[int]]:
    """Indices of valid requests, grouped by sampling settings, in arrival order."""
    groups: dict[SamplingParams, list[int]] = {}
    for index, item in enumerate(items):
        if isinstance(item, SynthesisRequest):
            groups.setdefault(item.sampling, []).append(index)
    return groups


def generate_group(model: TTSModel, variant: Variant, rows: Sequence[SynthesisRequest]) -> list[np.ndarray]:
    """One batched `generate_*` call for rows that share their sampling settings."""
    kwargs = rows[0].sampling.generate_kwargs()
    texts = [row.text for row in rows]
    languages = [row.language.lower() for row in rows]
    if variant is Variant.CUSTOM_VOICE:
        instructs = [row.instruct or "" for row in rows]
        wavs, rate = model.generate_custom_voice(
            text=texts, speaker=[row.speaker for row in rows], language=languages, instruct=instructs, **kwargs
        )
    elif variant is Variant.VOICE_DESIGN:
        wavs, rate = model.generate_voice_design(
            text=texts, instruct=[row.instruct for row in rows], language=languages, **kwargs
        )
    else:
        # Always (array, rate) tuples: a string would make qwen-tts open a path or a URL itself.
        refs = [(row.ref_audio, MODEL_SAMPLE_RATE) for row in rows]
        wavs, rate = model.generate_voice_clone(
            text=texts,
            language=languages,
            ref_audio=refs,
            ref_text=[row.ref_text for row in rows],
            x_vector_only_mode=[row.x_vector_only for row in rows],
            **kwargs,
        )
    if int(rate) != MODEL_SAMPLE_RATE:
        raise RuntimeError(f"model produced {rate} Hz audio; the serving path expects {MODEL_SAMPLE_RATE} Hz")
    if len(wavs) != len(rows):
        raise RuntimeError(f"model returned {len(wavs)} outputs for {len(rows)} rows")
    return [np.asarray(wav, dtype=np.float32).reshape(-1) for wav in wavs]


def prepare(item: SynthesisRequest | Exception) -> SynthesisRequest | Exception:
    """Resample a clone request's reference audio once, before batching."""
    if not isinstance(item, SynthesisRequest) or item.ref_audio is None or item.ref_sample_rate is None:
        return item
    try:
        audio = prepare_reference(item.ref_audio, item.ref_sample_rate)
    except ReferenceAudioError as exc:
        return RequestError(f"REF_AUDIO: {exc}")
    return SynthesisRequest(**{**item.__dict__, "ref_audio": audio, "ref_sample_rate": MODEL_SAMPLE_RATE})


def synthesize(model: TTSModel, variant: Variant, items: Sequence[SynthesisRequest | Exception]) -> list[Outcome]:
    """One outcome per item, in order: audio for a good request, the exception for a bad one."""
    prepared = [prepare(item) for item in items]
    outcomes: list[Outcome] = [item if isinstance(item, Exception) else RuntimeError("not run") for item in prepared]
    for indices in group_by_sampling(prepared).values():
        rows = [prepared[i] for i in indices]
        assert all(isinstance(row, SynthesisRequest) for row in rows)
        try:
            results: list[Outcome] = list(generate_group(model, variant, rows))  # type: ignore[arg-type]
        except Exception:
            if len(rows) == 1:
                log.exception("generation failed for a single request")
                results = [RuntimeError("generation failed")]
            else:
                log.warning("batched call of %d rows failed; retrying row by row", len(rows))
                results = [_single(model, variant, row) for row in rows]  # type: ignore[arg-type]
        for index, result in zip(indices, results, strict=True):
            outcomes[index] = result
    return outcomes


def _single(model: TTSModel, variant: Variant, row: SynthesisRequest) -> Outcome:
    try:
        return generate_group(model, variant, [row])[0]
    except Exception as exc:
        log.exception("generation failed for one request")
        return RuntimeError(f"generation failed: {type(exc).__name__}")
