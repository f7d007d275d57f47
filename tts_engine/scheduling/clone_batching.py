"""Voice-clone batches: prompts from raw references in one call, then every row generated from a prompt.

A voice-clone row is generated from a qwen-tts `VoiceClonePromptItem`: built from the row's
reference audio (resampled to 24 kHz by `reference_audio`, so qwen-tts never resamples with
librosa) or converted from a stored prompt the client sent back (`clone_prompt`), which skips
encoding the reference. Within one `execute()`:

1. every row with reference audio (PROMPT_ONLY rows and generation rows) gets its prompt item from
   ONE `create_voice_clone_prompt` call; PROMPT_ONLY rows are answered with that prompt;
2. the generation rows (built and stored prompts together) are grouped by sampling settings and
   each group is ONE `generate_voice_clone(voice_clone_prompt=[items...])` call. qwen-tts reads the
   mode per row (`icl_mode`, `ref_code` may be None for x-vector rows), so ICL and x-vector-only
   rows share a call; the ICL transcript is the item's `ref_text`.

Either call is retried row by row when it fails (`run_batched`): a bad row never fails the batch.
A seeded row is generated alone, after seeding torch with its seed (`batching.run_group`).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from tts_engine.clone.prompt import from_prompt_item, to_prompt_item
from tts_engine.clone.reference_audio import MODEL_SAMPLE_RATE, ReferenceAudioError, prepare_reference
from tts_engine.errors import RequestError
from tts_engine.requests import SamplingParams, SynthesisRequest
from tts_engine.scheduling.batching import Outcome, TTSModel, checked_wavs, run_batched, run_group

if TYPE_CHECKING:
    from qwen_tts.inference.qwen3_tts_model import VoiceClonePromptItem

Item = SynthesisRequest | Exception
GenerationRow = tuple[SynthesisRequest, "VoiceClonePromptItem"]


def prepare(item: Item) -> Item:
    """Resample a request's reference audio to 24 kHz once, before batching."""
    if not isinstance(item, SynthesisRequest) or item.ref_audio is None or item.ref_sample_rate is None:
        return item
    try:
        audio = prepare_reference(item.ref_audio, item.ref_sample_rate)
    except ReferenceAudioError as exc:
        return RequestError(f"REF_AUDIO: {exc}")
    return SynthesisRequest(**{**item.__dict__, "ref_audio": audio, "ref_sample_rate": MODEL_SAMPLE_RATE})


def build_prompt_items(model: TTSModel, rows: Sequence[SynthesisRequest]) -> list[VoiceClonePromptItem]:
    """One `create_voice_clone_prompt` call for rows whose reference is already mono 24 kHz."""
    if any(row.ref_audio is None or row.ref_sample_rate != MODEL_SAMPLE_RATE for row in rows):
        raise ValueError("reference audio must be prepared (24 kHz) before building prompts")
    # Always (array, rate) tuples: a string would make qwen-tts open a path or a URL itself.
    items = model.create_voice_clone_prompt(
        ref_audio=[(row.ref_audio, MODEL_SAMPLE_RATE) for row in rows],
        ref_text=[row.ref_text for row in rows],
        x_vector_only_mode=[row.x_vector_only for row in rows],
    )
    return list(items)


def generate_from_prompts(model: TTSModel, rows: Sequence[GenerationRow]) -> list[np.ndarray]:
    """One `generate_voice_clone` call for rows sharing their sampling settings (ICL and x-vector mixed)."""
    kwargs = rows[0][0].sampling.generate_kwargs()
    wavs, rate = model.generate_voice_clone(
        text=[row.text for row, _ in rows],
        language=[row.language.lower() for row, _ in rows],
        voice_clone_prompt=[item for _, item in rows],
        **kwargs,
    )
    return checked_wavs(wavs, rate, len(rows))


def _built_items(model: TTSModel, items: Sequence[Item]) -> dict[int, VoiceClonePromptItem | Exception]:
    """Prompt items for every row carrying reference audio, by row index, from one batched call."""
    indices = [i for i, item in enumerate(items) if isinstance(item, SynthesisRequest) and item.prompt is None]
    rows = [row for row in (items[i] for i in indices) if isinstance(row, SynthesisRequest)]
    if not rows:
        return {}
    results = run_batched(partial(build_prompt_items, model), rows, "building the voice clone prompt")
    return dict(zip(indices, results, strict=True))


def _prompt_item(row: SynthesisRequest, built: VoiceClonePromptItem | Exception | None) -> VoiceClonePromptItem:
    if isinstance(built, Exception):
        raise built
    if built is not None:
        return built
    if row.prompt is None:
        raise RuntimeError("voice clone row has neither reference audio nor a stored prompt")
    return to_prompt_item(row.prompt, row.ref_text)


def synthesize_clone(model: TTSModel, items: Sequence[Item]) -> list[Outcome]:
    """One outcome per item, in order: audio, a prompt (PROMPT_ONLY), or that request's error."""
    prepared = [prepare(item) for item in items]
    built = _built_items(model, prepared)
    outcomes: list[Outcome] = [item if isinstance(item, Exception) else RuntimeError("not run") for item in prepared]
    groups: dict[SamplingParams, list[tuple[int, GenerationRow]]] = {}
    for index, row in enumerate(prepared):
        if isinstance(row, Exception):
            continue
        try:
            item = _prompt_item(row, built.get(index))
            if row.prompt_only:
                outcomes[index] = from_prompt_item(item)
                continue
        except Exception as exc:
            outcomes[index] = exc
            continue
        groups.setdefault(row.sampling, []).append((index, (row, item)))
    for sampling, entries in groups.items():
        rows = [entry for _, entry in entries]
        results = run_group(partial(generate_from_prompts, model), rows, "generation", sampling.seed)
        for (index, _), result in zip(entries, results, strict=True):
            outcomes[index] = result
    return outcomes
