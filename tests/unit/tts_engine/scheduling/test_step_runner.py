"""The continuous-batching step engine with the reference sampler (QWEN_TTS_SAMPLER=reference)
against the package's own `generate_*`, on the REAL tiny checkpoints (random weights, CPU, fp32):
same inputs and seed, the same speech codes, exactly; a row's codes do not depend on who shares
its batch or when it joined. The codes are read where both paths hand them to the package's codec
(`speech_tokenizer.decode`); the audio is compared too, to float rounding (the codec's arithmetic
varies with its thread count and batch)."""

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tts_engine.clone.prompt import ClonePrompt
from tts_engine.clone.reference_audio import MODEL_SAMPLE_RATE, prepare_reference
from tts_engine.config import Variant
from tts_engine.requests import SamplingParams, SynthesisRequest
from tts_engine.scheduling import step_runner
from tts_engine.scheduling.engine import Engine
from tts_engine.scheduling.loop import Outcome, Sink, Submission
from tts_engine.scheduling.step_runner import StepRunner
from tts_engine.step.cache import INITIAL_CACHE_TOKENS

ROOT = Path(__file__).resolve().parents[4]
TINY = ROOT / ".cache" / "tiny-checkpoints"
TEXTS = ["Hello world, this is a test.", "Short.", "A much longer sentence that keeps going for a while."]


def reference_runner(engine: Engine, rows: int, **kwargs: Any) -> StepRunner:
    """The package-exact sampler, 4-frame chunks."""
    return StepRunner(engine, max_rows=rows, chunk_schedule=(4,), sampler="reference", **kwargs)


def load(name: str) -> Any:
    if not (TINY / name).is_dir():
        pytest.fail(f"tiny checkpoint missing in {TINY / name}: run scripts/install.sh")
    from qwen_tts import Qwen3TTSModel

    return Qwen3TTSModel.from_pretrained(str(TINY / name), device_map="cpu", dtype=torch.float32)


@pytest.fixture(scope="module")
def custom() -> Engine:
    return Engine.for_model(load("Qwen3-TTS-12Hz-0.6B-CustomVoice"), Variant.CUSTOM_VOICE)


class CodeRecorder:
    """Wraps the model's codec: records the codes of every row it decodes, in call order."""

    def __init__(self, tts: Any) -> None:
        self.codec = tts.model.speech_tokenizer
        self.codes: list[torch.Tensor] = []
        self.lock = threading.Lock()

    def __enter__(self) -> "CodeRecorder":
        original = self.codec.decode

        def decode(encoded: list[dict[str, torch.Tensor]]) -> Any:
            with self.lock:
                self.codes += [item["audio_codes"].clone() for item in encoded]
            return original(encoded)

        self.codec.decode = decode
        return self

    def __exit__(self, *exc: object) -> None:
        del self.codec.decode


def same(ours: Outcome, theirs: Outcome) -> None:
    assert isinstance(ours, np.ndarray) and isinstance(theirs, np.ndarray)
    assert ours.shape == theirs.shape
    # The speech codes are compared exactly (codes_of); the audio only to rounding: the codec's float
    # sums depend on how many rows share its call and on thread scheduling, which a loaded machine
    # changes (2.6e-5 seen on a shared 2-core machine, on audio of amplitude ~0.1).
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def codes_of(tts: Any, action: Any) -> tuple[Any, list[torch.Tensor]]:
    with CodeRecorder(tts) as recorder:
        result = action()
    return result, recorder.codes


class Collector:
    def __init__(self) -> None:
        self.chunks: dict[int, list[np.ndarray]] = {}
        self.final: dict[int, Outcome] = {}

    def sink(self, index: int, *, stream: bool = False) -> Sink:
        def emit(outcome: Outcome, final: bool) -> None:
            if final:
                assert index not in self.final, "a second final response"
                self.final[index] = outcome
            else:
                assert isinstance(outcome, np.ndarray)
                self.chunks.setdefault(index, []).append(outcome)

        return Sink(emit, stream=stream)


def run(engine: Engine, requests: list[SynthesisRequest], *, rows: int = 8, stream: bool = False) -> list[Outcome]:
    runner = reference_runner(engine, rows)
    got = Collector()
    runner.admit([Submission(r, got.sink(i, stream=stream)) for i, r in enumerate(requests)])
    while runner.busy():
        runner.step()
    runner.flush()
    return [got.final[i] for i in range(len(requests))]


def custom_request(text: str, **sampling: Any) -> SynthesisRequest:
    return SynthesisRequest(text=text, language="English", speaker="ryan", sampling=SamplingParams(**sampling))


def package_custom(engine: Engine, text: str, seed: int, **kwargs: Any) -> np.ndarray:
    torch.manual_seed(seed)
    wavs, _ = engine.model.generate_custom_voice(text=[text], speaker=["ryan"], language=["english"], **kwargs)
    return np.asarray(wavs[0], dtype=np.float32)


SETTINGS = [
    ({"max_new_tokens": 16}, {}),
    ({"max_new_tokens": 16, "temperature": 0.0}, {"do_sample": False}),
    (
        {"max_new_tokens": 20, "temperature": 0.7, "top_k": 10, "top_p": 0.8, "repetition_penalty": 1.3},
        {"temperature": 0.7, "top_k": 10, "top_p": 0.8, "repetition_penalty": 1.3},
    ),
]


@pytest.mark.parametrize(("ours", "theirs"), SETTINGS, ids=["defaults", "greedy", "custom"])
@pytest.mark.parametrize("text", TEXTS)
def test_a_row_alone_equals_the_package(
    custom: Engine, text: str, ours: dict[str, Any], theirs: dict[str, Any]
) -> None:
    (audio,), codes = codes_of(custom.model, lambda: run(custom, [custom_request(text, seed=7, **ours)]))
    expected, expected_codes = codes_of(
        custom.model, lambda: package_custom(custom, text, 7, max_new_tokens=ours["max_new_tokens"], **theirs)
    )
    assert len(codes) == len(expected_codes) == 1
    assert torch.equal(codes[0], expected_codes[0])
    same(audio, expected)


def test_a_row_does_not_depend_on_its_neighbours_or_when_it_joined(custom: Engine) -> None:
    target = custom_request(TEXTS[0], seed=11, max_new_tokens=30)
    (alone,), (alone_codes,) = codes_of(custom.model, lambda: run(custom, [target]))
    neighbours = [
        custom_request(TEXTS[2], seed=3, max_new_tokens=45, temperature=1.2),
        target,
        custom_request(TEXTS[1], seed=5, max_new_tokens=4, temperature=0.0),
    ]
    together, codes = codes_of(custom.model, lambda: run(custom, neighbours))
    assert any(torch.equal(c, alone_codes) for c in codes)
    same(together[1], alone)

    # joins a batch that has already decoded 6 steps
    runner = reference_runner(custom, 4)
    got = Collector()
    with CodeRecorder(custom.model) as recorder:
        runner.admit([Submission(neighbours[0], got.sink(0))])
        for _ in range(6):
            runner.step()
        runner.admit([Submission(target, got.sink(1))])
        while runner.busy():
            runner.step()
        runner.flush()
    assert any(torch.equal(c, alone_codes) for c in recorder.codes)
    same(got.final[1], alone)


def test_a_row_taking_a_freed_place_is_still_independent(custom: Engine) -> None:
    """Rows leave after their noise for the next step was drawn; whoever takes their place must
    never get it (the runner keys noise by row serial, not by an object id that may be reused)."""
    target = custom_request(TEXTS[0], seed=21, max_new_tokens=12)
    (alone,), (alone_codes,) = codes_of(custom.model, lambda: run(custom, [target]))
    for _ in range(3):
        runner = reference_runner(custom, 2)
        got = Collector()
        with CodeRecorder(custom.model) as recorder:
            runner.admit([Submission(custom_request(TEXTS[1], seed=2, max_new_tokens=3), got.sink(0))])
            runner.admit([Submission(custom_request(TEXTS[2], seed=3, max_new_tokens=30), got.sink(1))])
            while runner.capacity() == 0:
                runner.step()
            runner.admit([Submission(target, got.sink(2))])
            while runner.busy():
                runner.step()
            runner.flush()
        runner.close()
        assert any(torch.equal(c, alone_codes) for c in recorder.codes)
        same(got.final[2], alone)


def test_rows_leave_at_their_own_limit_and_free_their_place(custom: Engine) -> None:
    runner = reference_runner(custom, 2)
    got = Collector()
    runner.admit(
        [
            Submission(custom_request(TEXTS[0], seed=1, max_new_tokens=40), got.sink(0)),
            Submission(custom_request(TEXTS[1], seed=2, max_new_tokens=3), got.sink(1)),
        ]
    )
    assert runner.capacity() == 0
    steps = 0
    while runner.capacity() == 0:
        runner.step()
        steps += 1
    assert steps == 2  # max_new_tokens 3: two frames, then it leaves
    runner.flush()
    assert 1 in got.final and 0 not in got.final
    samples_per_frame = np.asarray(got.final[1]).size // 2
    runner.admit([Submission(custom_request(TEXTS[2], seed=3, max_new_tokens=5), got.sink(2))])
    while runner.busy():
        runner.step()
    runner.flush()
    assert np.asarray(got.final[0]).size <= 39 * samples_per_frame


def test_streamed_chunks_add_up_to_the_whole_audio(custom: Engine) -> None:
    request = custom_request(TEXTS[0], seed=5, max_new_tokens=18)
    (whole,) = run(custom, [request])
    runner = reference_runner(custom, 2)
    got = Collector()
    runner.admit([Submission(request, got.sink(0, stream=True))])
    while runner.busy():
        runner.step()
    runner.flush()
    chunks = got.chunks[0]
    assert len(chunks) >= 3
    assert {c.size for c in chunks} == {chunks[0].size}  # 4 frames each
    streamed = np.concatenate([*chunks, np.asarray(got.final[0])])
    assert streamed.size == np.asarray(whole).size
    # decoded with 72 frames of left context: the same audio as one whole decode, up to rounding
    np.testing.assert_allclose(streamed, whole, atol=1e-4)


def test_a_cancelled_row_is_dropped_with_an_error(custom: Engine) -> None:
    runner = reference_runner(custom, 2)
    got = Collector()
    cancelled = {"now": False}
    runner.admit(
        [
            Submission(custom_request(TEXTS[0], seed=1, max_new_tokens=200), got.sink(0), lambda: cancelled["now"]),
            Submission(custom_request(TEXTS[1], seed=2, max_new_tokens=20), got.sink(1)),
        ]
    )
    runner.step()
    cancelled["now"] = True
    for _ in range(8):
        runner.step()
    assert isinstance(got.final[0], RuntimeError) and "cancelled" in str(got.final[0])
    while runner.busy():
        runner.step()
    runner.flush()
    assert isinstance(got.final[1], np.ndarray)


def test_voice_design_equals_the_package() -> None:
    engine = Engine.for_model(load("Qwen3-TTS-12Hz-1.7B-VoiceDesign"), Variant.VOICE_DESIGN)
    instruct = "A calm, low voice."
    request = SynthesisRequest(
        text=TEXTS[0], language="English", instruct=instruct, sampling=SamplingParams(max_new_tokens=14, seed=9)
    )
    (audio,), codes = codes_of(engine.model, lambda: run(engine, [request]))

    def package() -> Any:
        torch.manual_seed(9)
        return engine.model.generate_voice_design(
            text=[TEXTS[0]], instruct=[instruct], language=["english"], max_new_tokens=14
        )[0][0]

    expected, expected_codes = codes_of(engine.model, package)
    assert torch.equal(codes[0], expected_codes[0])
    same(audio, np.asarray(expected, dtype=np.float32))


@pytest.mark.parametrize("x_vector_only", [False, True], ids=["icl", "x-vector"])
def test_voice_clone_equals_the_package(x_vector_only: bool) -> None:
    engine = Engine.for_model(load("Qwen3-TTS-12Hz-0.6B-Base"), Variant.VOICE_CLONE)
    rng = np.random.default_rng(0)
    reference = (0.1 * np.sin(np.linspace(0, 900, 3 * 16_000)) + 0.01 * rng.standard_normal(3 * 16_000)).astype(
        np.float32
    )
    ref_text = None if x_vector_only else "The reference transcript."
    request = SynthesisRequest(
        text=TEXTS[0],
        language="English",
        ref_audio=reference,
        ref_sample_rate=16_000,
        ref_text=ref_text,
        x_vector_only=x_vector_only,
        sampling=SamplingParams(max_new_tokens=12, seed=4),
    )
    (audio,), codes = codes_of(engine.model, lambda: run(engine, [request]))
    pair = run(engine, [request, request], rows=4)
    items = engine.model.create_voice_clone_prompt(
        ref_audio=[(prepare_reference(reference, 16_000), MODEL_SAMPLE_RATE)],
        ref_text=[ref_text],
        x_vector_only_mode=[x_vector_only],
    )

    def package() -> Any:
        torch.manual_seed(4)
        return engine.model.generate_voice_clone(
            text=[TEXTS[0]], language=["english"], voice_clone_prompt=items, max_new_tokens=12
        )[0][0]

    expected, expected_codes = codes_of(engine.model, package)
    # ICL rows: the reference codes in front of the generated ones, as the package decodes them
    assert torch.equal(codes[0], expected_codes[0])
    same(audio, np.asarray(expected, dtype=np.float32))
    # two rows finishing together share one codec call: the same codes, batched arithmetic
    for twin in pair:
        np.testing.assert_allclose(twin, audio, atol=1e-4)

    prompt_only = SynthesisRequest(
        text="",
        language="English",
        ref_audio=reference,
        ref_sample_rate=16_000,
        ref_text=ref_text,
        x_vector_only=x_vector_only,
        prompt_only=True,
    )
    (prompt,) = run(engine, [prompt_only])
    assert isinstance(prompt, ClonePrompt)


def test_the_cache_grows_for_a_long_row_and_shrinks_when_the_batch_empties(custom: Engine) -> None:
    runner = reference_runner(custom, 2)
    got = Collector()
    long_text = "one more word " * 120  # CustomVoice puts the whole text in the prefix: > 256 positions
    runner.admit([Submission(custom_request(long_text, seed=1, max_new_tokens=4), got.sink(0))])
    assert runner._batch.cache_capacity > INITIAL_CACHE_TOKENS
    while runner.busy():
        runner.step()
    runner.flush()
    assert isinstance(got.final[0], np.ndarray)
    assert runner._batch.cache_capacity == INITIAL_CACHE_TOKENS


def test_a_row_stops_at_its_texts_bound_before_max_new_tokens(custom: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(step_runner, "TEXT_BOUND_FLOOR_FRAMES", 2)
    text = TEXTS[1]
    tokens = int(custom.model.processor(text=text, return_tensors="pt")["input_ids"].shape[-1])
    runner = reference_runner(custom, 2, frames_per_text_token=1)
    got = Collector()
    runner.admit([Submission(custom_request(text, seed=5, max_new_tokens=300), got.sink(0))])  # 136 frames unbounded
    while runner.busy():
        runner.step()
    runner.flush()
    frames = np.asarray(got.final[0]).size // 1920
    assert 1 <= frames <= 2 + tokens - 1  # bound: floor + 1 frame per token (sampled tokens, frames one fewer)
