"""Stored voice-clone prompts through the engine with the REAL tiny Base checkpoint (CPU, from_pretrained)."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from benchmarks import clone_prompt as bench
from tts_engine.clone.prompt import ClonePrompt, prompt_outputs
from tts_engine.clone.reference_audio import prepare_reference
from tts_engine.config import Variant
from tts_engine.errors import RequestError
from tts_engine.scheduling.engine import Engine

ROOT = Path(__file__).resolve().parents[4]
WEIGHTS = ROOT / ".cache" / "tiny-checkpoints" / "Qwen3-TTS-12Hz-0.6B-Base"
MAX_NEW = 12


class CountingModel:
    """The real model, with a record of which batched calls the engine made (and how many rows each)."""

    def __init__(self, model: Any):
        self.inner = model
        self.calls: list[tuple[str, int]] = []

    def create_voice_clone_prompt(self, ref_audio: Any, **kw: Any) -> Any:
        self.calls.append(("create_voice_clone_prompt", len(ref_audio)))
        return self.inner.create_voice_clone_prompt(ref_audio=ref_audio, **kw)

    def generate_voice_clone(self, text: Any, **kw: Any) -> Any:
        self.calls.append(("generate_voice_clone", len(text)))
        return self.inner.generate_voice_clone(text=text, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture(scope="module")
def model() -> Any:
    if not WEIGHTS.is_dir():
        pytest.fail(f"tiny checkpoint missing in {WEIGHTS}: run scripts/install.sh")
    from qwen_tts import Qwen3TTSModel

    return Qwen3TTSModel.from_pretrained(str(WEIGHTS), device_map="cpu", dtype=torch.float32)


@pytest.fixture(scope="module")
def engine(model: Any) -> Engine:
    return Engine.for_model(model, Variant.VOICE_CLONE)


def s(value: str) -> np.ndarray:
    return np.array([[value.encode()]], dtype=np.object_)


AUDIO = bench.reference(3.0, 16_000)
REF = {"REF_AUDIO": AUDIO.reshape(1, -1), "REF_SAMPLE_RATE": np.array([[16_000]], np.int32)}
GEN = {"TEXT": s("Stored voices never encode their reference again."), "MAX_NEW_TOKENS": np.array([[MAX_NEW]])}


def run_one(engine: Engine, inputs: dict[str, np.ndarray], seed: int = 11) -> Any:
    torch.manual_seed(seed)
    (outcome,) = engine.run([inputs])
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def build_prompt(engine: Engine, x_vector_only: bool) -> dict[str, np.ndarray]:
    mode = {"X_VECTOR_ONLY": np.array([[True]])} if x_vector_only else {"REF_TEXT": s(bench.REF_TEXT)}
    prompt = run_one(engine, {**REF, **mode, "PROMPT_ONLY": np.array([[True]])})
    assert isinstance(prompt, ClonePrompt)
    assert engine.prompt_spec is not None
    return prompt_outputs(prompt, engine.prompt_spec.num_code_groups)


@pytest.mark.parametrize("x_vector_only", [False, True], ids=["icl", "x_vector_only"])
def test_stored_prompt_gives_exactly_the_raw_reference_audio(engine: Engine, model: Any, x_vector_only: bool):
    tensors = build_prompt(engine, x_vector_only)
    frames = tensors["REF_CODE"].shape[1]
    assert tensors["REF_CODE"].shape == (1, 0 if x_vector_only else 38, 4) and tensors["REF_CODE"].dtype == np.int64
    assert tensors["REF_SPK_EMBEDDING"].shape == (1, 32) and tensors["REF_SPK_EMBEDDING"].dtype == np.float32
    mode = {"X_VECTOR_ONLY": np.array([[True]])} if x_vector_only else {"REF_TEXT": s(bench.REF_TEXT)}
    stored = {**GEN, **mode, "REF_SPK_EMBEDDING": tensors["REF_SPK_EMBEDDING"]}
    if frames:
        stored["REF_CODE"] = tensors["REF_CODE"]
    from_raw = run_one(engine, {**GEN, **REF, **mode})
    from_stored = run_one(engine, stored)
    assert isinstance(from_raw, np.ndarray) and from_raw.size > 0
    assert np.array_equal(from_raw, from_stored)
    # and the engine's raw path is the package's own raw path (same 24 kHz reference, same seed)
    torch.manual_seed(11)
    wavs, _ = model.generate_voice_clone(
        text=["Stored voices never encode their reference again."],
        language=["auto"],
        ref_audio=[(prepare_reference(AUDIO, 16_000), 24_000)],
        ref_text=[None if x_vector_only else bench.REF_TEXT],
        x_vector_only_mode=[x_vector_only],
        max_new_tokens=MAX_NEW,
    )
    assert np.array_equal(np.asarray(wavs[0], np.float32), from_raw)


def test_a_mixed_batch_gives_each_row_its_own_outcome(model: Any):
    counting = CountingModel(model)
    engine = Engine.for_model(counting, Variant.VOICE_CLONE)
    icl = build_prompt(engine, x_vector_only=False)
    counting.calls.clear()
    bad_code = np.zeros((1, 5, 5), np.int64)
    batch = [
        {**GEN, **icl, "REF_TEXT": s(bench.REF_TEXT)},  # stored ICL prompt
        {**GEN, **REF, "X_VECTOR_ONLY": np.array([[True]])},  # raw reference, x-vector only
        {**REF, "REF_TEXT": s(bench.REF_TEXT), "PROMPT_ONLY": np.array([[True]])},  # prompt only
        {**GEN, "REF_CODE": bad_code, "REF_SPK_EMBEDDING": icl["REF_SPK_EMBEDDING"], "REF_TEXT": s("r")},  # bad
        {**GEN, "REF_SPK_EMBEDDING": icl["REF_SPK_EMBEDDING"]},  # stored x-vector prompt
    ]
    torch.manual_seed(3)
    out = engine.run(batch)
    assert [type(o).__name__ for o in out] == ["ndarray", "ndarray", "ClonePrompt", "RequestError", "ndarray"]
    assert isinstance(out[3], RequestError) and "REF_CODE has 5 code groups" in str(out[3])
    for wav in (out[0], out[1], out[4]):
        assert isinstance(wav, np.ndarray) and wav.size > 0 and np.all(np.isfinite(wav))
    prompt = out[2]
    assert isinstance(prompt, ClonePrompt) and prompt.ref_code is not None
    assert np.array_equal(prompt.ref_code, icl["REF_CODE"][0])  # same reference, same codes
    # one prompt-building call for both reference rows, one generation call for the three generation rows
    assert counting.calls == [("create_voice_clone_prompt", 2), ("generate_voice_clone", 3)]


def test_rows_with_other_sampling_settings_get_their_own_call(model: Any):
    counting = CountingModel(model)
    engine = Engine.for_model(counting, Variant.VOICE_CLONE)
    spk = np.random.default_rng(1).standard_normal((1, 32)).astype(np.float32)
    rows = [{**GEN, "REF_SPK_EMBEDDING": spk}, {**GEN, "REF_SPK_EMBEDDING": spk, "TEMPERATURE": np.array([[0.5]])}]
    out = engine.run(rows)
    assert all(isinstance(o, np.ndarray) for o in out)
    assert counting.calls == [("generate_voice_clone", 1), ("generate_voice_clone", 1)]


def test_a_seeded_row_is_generated_alone_and_gives_the_same_audio_in_any_batch(model: Any):
    counting = CountingModel(model)
    engine = Engine.for_model(counting, Variant.VOICE_CLONE)
    spk = np.random.default_rng(2).standard_normal((1, 32)).astype(np.float32)
    seeded = {**GEN, "REF_SPK_EMBEDDING": spk, "SEED": np.array([[99]], np.int64)}
    [alone] = engine.run([seeded])
    counting.calls.clear()
    crowd = engine.run([{**GEN, "REF_SPK_EMBEDDING": spk}, seeded, {**GEN, "REF_SPK_EMBEDDING": spk}, seeded])
    assert counting.calls == [("generate_voice_clone", 2), ("generate_voice_clone", 1), ("generate_voice_clone", 1)]
    assert isinstance(alone, np.ndarray)
    np.testing.assert_array_equal(crowd[1], alone)
    np.testing.assert_array_equal(crowd[3], alone)


def test_bench_script_measures_both_paths(engine: Engine):
    result = bench.measure(engine, repeats=1, max_new_tokens=MAX_NEW)
    print("\nstored prompt vs raw 3 s reference at 16 kHz (1 repetition):", result)
    assert result["identical_audio"] is True and result["ref_code_frames"] == 38
    assert result["raw_reference_generation_s"] > 0 and result["stored_prompt_generation_s"] > 0
