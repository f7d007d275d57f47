"""Turn the N requests Triton hands to `execute()` into as few `generate_*` calls as possible.

qwen-tts takes text, speaker, language, instruct and reference audio per row, but sampling
settings per call: requests are grouped by their settings and each group is one batched call.
A failing batched call is retried row by row (`run_batched`), so one bad request gets its own
error and never fails its neighbours. A seeded request (SEED) is generated alone, right after
`torch.manual_seed(seed)` (`run_group`): the package samples from torch's global generators, so
that is what makes the same seed give the same audio on this engine whoever else was sent. Voice
clone batches are in `clone_batching`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol, TypeVar

import numpy as np

from tts_engine.clone.prompt import ClonePrompt
from tts_engine.clone.reference_audio import MODEL_SAMPLE_RATE
from tts_engine.config import Variant
from tts_engine.errors import RequestError
from tts_engine.requests import SamplingParams, SynthesisRequest

log = logging.getLogger(__name__)

Outcome = np.ndarray | ClonePrompt | Exception
"""Audio (float32, 24 kHz), a built voice-clone prompt (PROMPT_ONLY), or the request's error."""

Row = TypeVar("Row")
Result = TypeVar("Result")


class TTSModel(Protocol):
    """The part of `qwen_tts.Qwen3TTSModel` the engine uses."""

    def generate_custom_voice(
        self, text: Any, speaker: Any, language: Any = ..., instruct: Any = ..., **kw: Any
    ) -> Any: ...
    def generate_voice_design(self, text: Any, instruct: Any, language: Any = ..., **kw: Any) -> Any: ...
    def generate_voice_clone(self, text: Any, language: Any = ..., **kw: Any) -> Any: ...
    def create_voice_clone_prompt(self, ref_audio: Any, ref_text: Any = ..., x_vector_only_mode: Any = ...) -> Any: ...
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


def run_batched(
    call: Callable[[Sequence[Row]], list[Result]], rows: Sequence[Row], what: str
) -> list[Result | Exception]:
    """`call(rows)` once; if it fails, once per row, so a failure belongs to the row that caused it."""
    try:
        results = call(rows)
        if len(results) != len(rows):
            raise RuntimeError(f"{what}: {len(results)} results for {len(rows)} rows")
        return list(results)
    except Exception:
        if len(rows) == 1:
            log.exception("%s failed for a single request", what)
            return [RuntimeError(f"{what} failed")]
        log.warning("batched %s of %d rows failed; retrying row by row", what, len(rows))
    singles: list[Result | Exception] = []
    for row in rows:
        single = _single(call, row, what)
        singles.append(single)
    return singles


def run_group(
    call: Callable[[Sequence[Row]], list[Result]], rows: Sequence[Row], what: str, seed: int | None
) -> list[Result | Exception]:
    """`run_batched(call, rows)`, or with a seed one call per row, each after seeding torch's global
    generators (CPU and every GPU) with it: a batch's draws would depend on its other rows."""
    if seed is None:
        return run_batched(call, rows, what)
    import torch  # here: the unseeded path and its tests need no torch

    def seeded(row: Sequence[Row]) -> list[Result]:
        torch.manual_seed(seed)
        return call(row)

    results: list[Result | Exception] = []
    for row in rows:
        single = _single(seeded, row, what)  # one statement: mypy infers Result, not Result | Exception
        results.append(single)
    return results


def _single(call: Callable[[Sequence[Row]], list[Result]], row: Row, what: str) -> Result | Exception:
    try:
        return call([row])[0]
    except RequestError as exc:
        return exc
    except Exception as exc:
        log.exception("%s failed for one request", what)
        return RuntimeError(f"{what} failed: {type(exc).__name__}")


def checked_wavs(wavs: Sequence[Any], rate: Any, rows: int) -> list[np.ndarray]:
    """The model's output as float32 arrays, after checking its rate and row count."""
    if int(rate) != MODEL_SAMPLE_RATE:
        raise RuntimeError(f"model produced {rate} Hz audio; the serving path expects {MODEL_SAMPLE_RATE} Hz")
    if len(wavs) != rows:
        raise RuntimeError(f"model returned {len(wavs)} outputs for {rows} rows")
    return [np.asarray(wav, dtype=np.float32).reshape(-1) for wav in wavs]


def generate_group(model: TTSModel, variant: Variant, rows: Sequence[SynthesisRequest]) -> list[np.ndarray]:
    """One batched `generate_*` call for CustomVoice or VoiceDesign rows sharing their sampling settings."""
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
        raise ValueError("voice clone batches go through tts_engine.scheduling.clone_batching")
    return checked_wavs(wavs, rate, len(rows))


def synthesize(model: TTSModel, variant: Variant, items: Sequence[SynthesisRequest | Exception]) -> list[Outcome]:
    """CustomVoice / VoiceDesign: one outcome per item, in order (audio, or that request's error)."""
    outcomes: list[Outcome] = [item if isinstance(item, Exception) else RuntimeError("not run") for item in items]
    for sampling, indices in group_by_sampling(items).items():
        rows = [item for item in (items[i] for i in indices) if isinstance(item, SynthesisRequest)]
        results = run_group(partial(generate_group, model, variant), rows, "generation", sampling.seed)
        for index, result in zip(indices, results, strict=True):
            outcomes[index] = result
    return outcomes
