"""The continuous engine with its default sampler (counter-based noise), on the real tiny
checkpoints (CPU, fp32): a seeded row's codes depend on its seed only (not on its neighbours,
its slot or when it joined), streams follow the chunk schedule, arrivals are prefilled together,
and the preallocated cache bounds a row instead of growing."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from tests.unit.tts_engine.scheduling.test_step_runner import TEXTS, CodeRecorder, Collector, custom_request, load
from tts_engine.config import Variant
from tts_engine.errors import RequestError
from tts_engine.requests import SynthesisRequest
from tts_engine.scheduling.engine import Engine
from tts_engine.scheduling.loop import Submission
from tts_engine.scheduling.step_runner import StepRunner
from tts_engine.step import counter_batch
from tts_engine.step.batch import RowStart
from tts_engine.step.counter_batch import CounterBatch
from tts_engine.step.prefix import build_prefix
from tts_engine.step.reference_batch import ReferenceBatch
from tts_engine.step.sampling import RowSampling


@pytest.fixture(scope="module")
def custom() -> Engine:
    return Engine.for_model(load("Qwen3-TTS-12Hz-0.6B-CustomVoice"), Variant.CUSTOM_VOICE)


def drive(runner: StepRunner, plan: list[tuple[int, list[SynthesisRequest]]], *, stream: bool = False) -> Collector:
    """Admit each group of requests after its number of steps, then run until every row is done."""
    got, index, steps = Collector(), 0, 0
    for at, requests in plan:
        while steps < at:
            runner.step()
            steps += 1
        runner.admit([Submission(r, got.sink(index + i, stream=stream)) for i, r in enumerate(requests)])
        index += len(requests)
    while runner.busy():
        runner.step()
    runner.flush()
    runner.close()
    return got


def crowd(count: int) -> list[SynthesisRequest]:
    settings: list[dict[str, Any]] = [
        {"temperature": 1.2},
        {"temperature": 0.0},
        {"top_k": 0, "top_p": 0.8},
        {"top_k": 5, "repetition_penalty": 1.3},
        {"top_k": 300, "temperature": 0.6},
    ]
    return [
        custom_request(TEXTS[i % 3], seed=1000 + i, max_new_tokens=10 + i % 30, **settings[i % len(settings)])
        for i in range(count)
    ]


def test_a_seeded_row_is_the_same_alone_beside_63_others_and_joining_late(custom: Engine) -> None:
    target = custom_request(TEXTS[0], seed=11, max_new_tokens=30, top_p=0.9)
    with CodeRecorder(custom.model) as alone_codes:
        alone = drive(StepRunner(custom, max_rows=64), [(0, [target])])
    others = crowd(63)
    runs = {
        "beside 63 others, slot 40": [(0, [*others[:40], target, *others[40:]])],
        "joining 6 steps late": [(0, others[:20]), (6, [target])],
    }
    for name, plan in runs.items():
        with CodeRecorder(custom.model) as recorder:
            got = drive(StepRunner(custom, max_rows=64), plan)
        assert any(torch.equal(c, alone_codes.codes[0]) for c in recorder.codes), name
        # the same codes; the audio to the codec's float rounding (rows finishing together share a
        # padded codec call)
        position = 40 if "slot" in name else 20
        np.testing.assert_allclose(got.final[position], alone.final[0], atol=1e-4)


def test_rows_that_leave_do_not_leave_their_settings_behind(custom: Engine) -> None:
    """A departed row's slot stays in the step's row bucket (4 slots for 3 rows): its settings
    must not outlive it (its top-k of 300 is beyond the remaining rows' candidate width)."""
    rows = [custom_request(TEXTS[i], seed=i, max_new_tokens=20) for i in range(3)]
    wide = custom_request(TEXTS[1], seed=9, max_new_tokens=3, top_k=300)
    got = drive(StepRunner(custom, max_rows=4), [(0, [*rows, wide])])
    assert all(isinstance(got.final[i], np.ndarray) for i in range(4)), got.final


def test_the_counter_step_computes_the_packages_network(custom: Engine) -> None:
    """Greedy everywhere (no noise), fp32: the counter engine's rearranged layers give the codes
    of the package's own modules (the reference batch), step after step, for rows of different
    lengths sharing a batch."""
    greedy = RowSampling(False, 1.0, 0, 1.0)
    tts = custom.model
    starts = [
        RowStart(i, build_prefix(tts, custom.variant, custom_request(text), None), greedy, greedy, 1, 50)
        for i, text in enumerate(TEXTS)
    ]
    ours, theirs = CounterBatch(tts.model.talker, max_rows=4, positions=256), ReferenceBatch(tts, max_rows=4)
    ours.admit(starts)
    theirs.admit(starts)
    for _ in range(8):
        assert ours.step() == theirs.step()
    theirs.close()


def test_streamed_chunks_follow_the_schedule_and_add_up_to_the_whole_audio(custom: Engine) -> None:
    request = custom_request(TEXTS[0], seed=5, max_new_tokens=26)
    (whole,) = drive(StepRunner(custom, max_rows=2), [(0, [request])]).final.values()
    got = drive(StepRunner(custom, max_rows=2, chunk_schedule=(2, 4, 8)), [(0, [request])], stream=True)
    frames = [chunk.size // 1920 for chunk in got.chunks[0]]
    assert frames == [2, 4, 8, 8]  # 25 frames: the last 3 come with the final response
    streamed = np.concatenate([*got.chunks[0], np.asarray(got.final[0])])
    assert streamed.size == np.asarray(whole).size
    np.testing.assert_allclose(streamed, whole, atol=1e-4)


def test_arrivals_waiting_at_a_step_are_prefilled_together(custom: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = counter_batch.prefill

    def counted(model: Any, state: Any, cache: Any, slots: range, *args: Any) -> None:
        calls.append(len(slots))
        original(model, state, cache, slots, *args)

    monkeypatch.setattr(counter_batch, "prefill", counted)
    got = drive(StepRunner(custom, max_rows=8), [(0, crowd(3)), (2, crowd(5))])
    assert calls == [3, 5]
    assert all(isinstance(got.final[i], np.ndarray) for i in range(8))


def test_the_cache_bounds_a_row_instead_of_growing(custom: Engine) -> None:
    runner = StepRunner(custom, max_rows=2, max_positions=128)
    cache = runner._batch.cache.kv  # type: ignore[attr-defined]
    long_text = "one more word " * 120  # CustomVoice puts the whole text in the prefix: > 128 positions
    request = custom_request(TEXTS[1], seed=3, max_new_tokens=400, temperature=0.0)
    got = drive(runner, [(0, [custom_request(long_text, seed=1), request])])
    assert isinstance(got.final[0], RequestError) and "QWEN_TTS_MAX_POSITIONS" in str(got.final[0])
    prefix = build_prefix(custom.model, custom.variant, request, None).embeds.shape[1]
    assert np.asarray(got.final[1]).size // 1920 <= 128 - prefix
    assert runner._batch.cache.kv is cache  # type: ignore[attr-defined]


def test_graphs_keep_batched_prefill_and_the_chunk_schedule(custom: Engine) -> None:
    """The same requests through replayed steps (the CPU stand-in of CUDA graphs): arrivals prefilled
    together mid-run, streams on the 2-4-8 schedule, the same chunks and audio as eager steps."""
    plan = [(0, crowd(3)), (3, crowd(6)[3:]), (5, [custom_request(TEXTS[2], seed=9, max_new_tokens=20)])]
    eager = drive(StepRunner(custom, max_rows=8, chunk_schedule=(2, 4, 8)), plan, stream=True)
    runner = StepRunner(custom, max_rows=8, chunk_schedule=(2, 4, 8), graphs="record")
    graphed = drive(runner, plan, stream=True)
    captured, fallbacks = runner.graphs()
    assert captured >= 8 and fallbacks == 0  # every row bucket at load, then the mixed plans' keys
    assert graphed.final.keys() == eager.final.keys() == set(range(7))
    for index, audio in eager.final.items():
        np.testing.assert_allclose(np.asarray(graphed.final[index]), np.asarray(audio), atol=1e-4)  # codec calls differ
        got, want = graphed.chunks.get(index, []), eager.chunks.get(index, [])
        assert [c.size for c in got] == [c.size for c in want]
        assert [c.size // 1920 for c in want][:2] in ([2, 4], [2], [])
