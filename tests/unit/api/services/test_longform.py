"""Long text through a fake gateway: segments run concurrently, in order, with one voice."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from api.catalog import Variant
from api.errors import BackendError, UnavailableError
from api.inference.tensors import SynthesisCall
from api.services import longform
from api.services.longform import Utterance
from api.settings import Settings
from tests.unit.api.fakes import FakeTriton

RATE = 24000
SENTENCE = "Esta es una frase de prueba bastante corta. "  # 44 characters
TEXT = SENTENCE * 20  # 880 characters: segments of 3 sentences at a budget of 140


class SlowTriton(FakeTriton):
    """Audio as long as 10 ms per character of text; records how many calls overlap."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__()
        self.running = self.most = 0
        self.fail_on = fail_on
        self.unloaded: set[str] = set()

    async def ensure_loaded(self, model: str, **_: Any) -> None:
        if model in self.unloaded:
            raise UnavailableError(f"model {model} is not loaded on the inference server")

    async def synthesize(self, model: str, call: SynthesisCall) -> tuple[np.ndarray, int]:
        self.synth_calls.append((model, call))
        index = len(self.synth_calls) - 1
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(0.01)
            if index == self.fail_on:
                raise BackendError("inference failed")
            return np.full(len(call.text or "") * RATE // 100, 0.5, np.float32), RATE
        finally:
            self.running -= 1


def settings(**overrides: Any) -> Settings:
    return Settings(segment_max_chars=140, segment_pause_seconds=0.2, **overrides)


def run(triton: SlowTriton, variant: Variant, call: SynthesisCall, **kwargs: Any) -> longform.LongAudio:
    segments = longform.stream_segments(
        triton=triton, settings=settings(), utterance=Utterance(variant, "1.7B", call), **kwargs
    )
    return asyncio.run(longform.joined(segments, settings()))


def test_custom_voice_segments_run_concurrently_and_join_in_order() -> None:
    triton = SlowTriton()
    seen: list[tuple[int, int]] = []

    async def progress(done: int, total: int) -> None:
        seen.append((done, total))

    call = SynthesisCall(text=TEXT, language="Spanish", speaker="Vivian", seed=41)
    audio = run(triton, Variant.CUSTOM_VOICE, call, progress=progress)
    texts = [c.text for _, c in triton.synth_calls]
    three, two = " ".join([SENTENCE.strip()] * 3), " ".join([SENTENCE.strip()] * 2)
    assert texts == [three] * 6 + [two]  # cut at sentence ends, 3 sentences (132 characters) per segment
    assert triton.most > 1, "segments overlap in time: separate rows of the batch"
    assert sorted(c.seed for _, c in triton.synth_calls) == list(range(41, 48))
    assert {c.speaker for _, c in triton.synth_calls} == {"Vivian"}
    assert [piece.index for piece in audio.segments] == list(range(7))
    lengths = [piece.samples.size for piece in audio.segments]
    assert audio.samples.size == sum(lengths) + 6 * round(0.2 * RATE)
    assert seen[0] == (0, 7) and seen[-1] == (7, 7) and len(seen) == 8


def test_short_text_is_one_untouched_row() -> None:
    triton = SlowTriton()
    call = SynthesisCall(text="  Hola.  ", language="Spanish", speaker="Vivian", seed=3)
    audio = run(triton, Variant.CUSTOM_VOICE, call)
    assert triton.synth_calls == [("custom_voice_1_7b", call)] and audio.segments == []


def test_a_raw_reference_becomes_one_prompt_for_every_segment() -> None:
    triton = SlowTriton()
    reference = np.zeros(16000, np.float32)
    call = SynthesisCall(text=TEXT, language="Spanish", ref_audio=reference, ref_sample_rate=16000, ref_text="hola")
    run(triton, Variant.VOICE_CLONE, call)
    assert len(triton.prompt_calls) == 1 and triton.prompt_calls[0]["ref_text"] == "hola"
    assert len(triton.synth_calls) == 7
    for model, sent in triton.synth_calls:
        assert model == "voice_clone_1_7b" and sent.ref_audio is None and sent.ref_code is not None
        assert sent.ref_text == "hola"


def test_voice_design_clones_the_first_segment_for_the_rest() -> None:
    triton = SlowTriton()
    call = SynthesisCall(text=TEXT, language="Spanish", instruct="una voz grave", temperature=0.7, seed=5)
    audio = run(triton, Variant.VOICE_DESIGN, call)
    models = [model for model, _ in triton.synth_calls]
    assert models == ["voice_design_1_7b"] + ["voice_clone_1_7b"] * 6
    (prompt,) = triton.prompt_calls
    first = audio.segments[0]
    assert prompt["model"] == "voice_clone_1_7b" and prompt["ref_text"] == first.segment.text
    assert prompt["ref_sample_rate"] == RATE and prompt["ref_audio"].size == first.samples.size
    assert all(
        c.instruct is None and c.ref_code is not None and c.temperature == 0.7 for _, c in triton.synth_calls[1:]
    )
    assert [piece.model for piece in audio.segments] == models


def test_voice_design_without_the_base_model_designs_every_segment() -> None:
    triton = SlowTriton()
    triton.unloaded.add("voice_clone_1_7b")
    call = SynthesisCall(text=TEXT, language="Spanish", instruct="una voz grave", seed=5)
    run(triton, Variant.VOICE_DESIGN, call)
    assert [model for model, _ in triton.synth_calls] == ["voice_design_1_7b"] * 7 and not triton.prompt_calls
    assert sorted(c.seed for _, c in triton.synth_calls) == list(range(5, 12))


def test_a_failed_segment_fails_the_request_and_cancels_the_rest() -> None:
    triton = SlowTriton(fail_on=2)
    with pytest.raises(BackendError):
        run(triton, Variant.CUSTOM_VOICE, SynthesisCall(text=TEXT, language="Spanish", speaker="Vivian"))
    assert triton.running == 0


def test_as_chunks_streams_the_segments_in_order_with_the_pauses() -> None:
    triton = SlowTriton()
    call = SynthesisCall(text=TEXT, language="Spanish", speaker="Vivian", seed=1)

    async def collect() -> list[tuple[np.ndarray, int]]:
        utterance = Utterance(Variant.CUSTOM_VOICE, "1.7B", call)
        chunks = longform.as_chunks(triton=triton, settings=settings(), utterance=utterance)
        return [chunk async for chunk in chunks]

    chunks = asyncio.run(collect())
    pause = round(0.2 * RATE)
    lengths = [len(c.text or "") * RATE // 100 for _, c in triton.synth_calls]
    assert [samples.size for samples, _ in chunks] == [lengths[0]] + [pause + n for n in lengths[1:]]
    assert all(not samples[:pause].any() for samples, _ in chunks[1:]), "each later chunk starts with silence"
    joined = run(SlowTriton(), Variant.CUSTOM_VOICE, call)
    assert np.array_equal(np.concatenate([samples for samples, _ in chunks]), joined.samples), "what generate joins"


def test_closing_the_stream_early_cancels_the_other_segments() -> None:
    triton = SlowTriton()
    call = SynthesisCall(text=TEXT, language="Spanish", speaker="Vivian")

    async def first_only() -> None:
        utterance = Utterance(Variant.CUSTOM_VOICE, "1.7B", call)
        chunks = longform.as_chunks(triton=triton, settings=settings(), utterance=utterance)
        await anext(chunks)
        await chunks.aclose()
        assert triton.running == 0

    asyncio.run(first_only())
