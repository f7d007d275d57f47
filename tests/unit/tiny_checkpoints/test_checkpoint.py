"""Tiny random checkpoints: they load through the real qwen-tts code and generate audible noise."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
qwen_tts = pytest.importorskip("qwen_tts")

import tiny_checkpoints as tc  # noqa: E402
from tiny_checkpoints import weights  # noqa: E402

TEXT = "Hello world, this is a test."
REF_TEXT = "This is the reference clip."
MAX_NEW_TOKENS = 24
GEN = {"language": "English", "max_new_tokens": MAX_NEW_TOKENS}


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny")
    tc.write_all(path)
    return path


@pytest.fixture(scope="module")
def ref_audio() -> tuple[np.ndarray, int]:
    """Three seconds of noise at 24 kHz (no resampling, so no numba compile in the test)."""
    return (np.random.default_rng(0).standard_normal(3 * 24000).astype(np.float32) * 0.1, 24000)


def load(root: Path, size: str, variant: str) -> Any:
    path = root / tc.VARIANT_DIRS[(size, variant)]
    return qwen_tts.Qwen3TTSModel.from_pretrained(str(path), device_map="cpu", dtype=torch.float32)


def check_audio(wavs: list[np.ndarray], sr: int, *, icl: bool = False) -> None:
    assert sr == 24000
    assert len(wavs) == 1
    wav = wavs[0]
    assert isinstance(wav, np.ndarray) and wav.ndim == 1 and wav.dtype == np.float32
    frames, extra = divmod(wav.shape[0], 1920)
    assert 1 <= frames < MAX_NEW_TOKENS
    # In ICL mode the wrapper cuts the reference part off with a float ratio: one sample may be left over.
    assert extra == 0 or (icl and extra == 1)
    assert float(np.sqrt(np.mean(wav**2))) > 1e-3, "random codes should decode to audible noise"


def tree_state(path: Path) -> dict[str, tuple[str, int]]:
    """Each file's content hash and modification time."""
    state = {}
    for file in sorted(f for f in path.rglob("*") if f.is_file()):
        digest = hashlib.sha256(file.read_bytes()).hexdigest()
        state[str(file.relative_to(path))] = (digest, file.stat().st_mtime_ns)
    return state


def tree_hashes(path: Path) -> dict[str, str]:
    return {name: digest for name, (digest, _) in tree_state(path).items()}


@pytest.mark.parametrize(("size", "variant"), list(tc.VARIANT_DIRS))
def test_marker_says_random(root: Path, size: str, variant: str) -> None:
    marker = json.loads((root / tc.VARIANT_DIRS[(size, variant)] / tc.MARKER_FILE).read_text())
    assert marker["tiny_random"] is True
    assert (marker["variant"], marker["size"], marker["seed"]) == (variant, size, 0)
    assert (marker["codebook_size"], marker["num_code_groups"]) == (64, 4)
    assert marker["generator_version"] == tc.GENERATOR_VERSION


@pytest.mark.parametrize("size", ["1.7B", "0.6B"])
def test_custom_voice_generates(root: Path, size: str) -> None:
    model = load(root, size, "custom_voice")
    assert set(model.get_supported_speakers()) == {s.lower() for s in tc.SPEAKERS}
    assert set(model.get_supported_languages()) == {"auto"} | {lang.lower() for lang in tc.LANGUAGES}
    torch.manual_seed(0)
    check_audio(*model.generate_custom_voice(text=TEXT, speaker="Vivian", instruct="Calm.", **GEN))
    torch.manual_seed(0)  # a dialect speaker with Chinese or Auto switches to the dialect's language id
    wavs, sr = model.generate_custom_voice(text="你好", speaker="Dylan", language="Chinese", max_new_tokens=8)
    check_audio(wavs, sr)


def test_voice_design_generates(root: Path) -> None:
    model = load(root, "1.7B", "voice_design")
    assert not model.get_supported_speakers()
    torch.manual_seed(0)
    check_audio(*model.generate_voice_design(text=TEXT, instruct="A calm, deep voice.", **GEN))


@pytest.mark.parametrize("size", ["1.7B", "0.6B"])
def test_voice_clone_generates(root: Path, size: str, ref_audio: tuple[np.ndarray, int]) -> None:
    model = load(root, size, "voice_clone")
    torch.manual_seed(0)
    wavs, sr = model.generate_voice_clone(text=TEXT, ref_audio=ref_audio, ref_text=REF_TEXT, **GEN)
    check_audio(wavs, sr, icl=True)
    torch.manual_seed(0)
    check_audio(*model.generate_voice_clone(text=TEXT, ref_audio=ref_audio, x_vector_only_mode=True, **GEN))


def test_voice_clone_prompt_is_reusable(root: Path, ref_audio: tuple[np.ndarray, int]) -> None:
    model = load(root, "1.7B", "voice_clone")
    (item,) = model.create_voice_clone_prompt(ref_audio=ref_audio, ref_text=REF_TEXT)
    assert item.icl_mode and not item.x_vector_only_mode and item.ref_text == REF_TEXT
    assert tuple(item.ref_code.shape) == (38, 4)  # 3 s at 12.5 frames/s, rounded up; 4 code groups
    assert int(item.ref_code.min()) >= 0 and int(item.ref_code.max()) < 64
    assert tuple(item.ref_spk_embedding.shape) == (model.model.config.talker_config.hidden_size,)
    torch.manual_seed(0)
    check_audio(*model.generate_voice_clone(text=TEXT, voice_clone_prompt=[item], **GEN), icl=True)


def test_second_write_all_keeps_everything(root: Path) -> None:
    before = tree_state(root)
    results: list[tuple[Path, bool]] = []
    paths = tc.write_all(root, on_result=lambda path, written: results.append((path, written)))
    assert paths == [root / name for name in tc.VARIANT_DIRS.values()]
    assert results == [(path, False) for path in paths]
    assert tree_state(root) == before


def test_stale_or_forced_checkpoints_are_rewritten(tmp_path: Path) -> None:
    path = tc.write_tiny_checkpoint(tmp_path / "vd", variant="voice_design", size="1.7B")
    marker = json.loads((path / tc.MARKER_FILE).read_text())
    assert tc.checkpoint_is_current(path, variant="voice_design", size="1.7B")
    assert not tc.checkpoint_is_current(path, variant="voice_design", size="1.7B", seed=1)
    (path / tc.MARKER_FILE).write_text(json.dumps({**marker, "generator_version": 0}))
    assert not tc.checkpoint_is_current(path, variant="voice_design", size="1.7B")
    tc.write_tiny_checkpoint(path, variant="voice_design", size="1.7B")
    assert json.loads((path / tc.MARKER_FILE).read_text()) == marker
    assert [p.name for p in tmp_path.iterdir()] == ["vd"], "no temporary folders left behind"


def test_same_seed_same_bytes(root: Path, tmp_path: Path) -> None:
    name = tc.VARIANT_DIRS[("1.7B", "voice_clone")]
    again = tc.write_tiny_checkpoint(tmp_path / name, variant="voice_clone", size="1.7B", seed=0)
    assert tree_hashes(again) == tree_hashes(root / name)
    other = tc.write_tiny_checkpoint(tmp_path / "seed1", variant="voice_clone", size="1.7B", seed=1)
    assert (other / "model.safetensors").read_bytes() != (again / "model.safetensors").read_bytes()


def test_interrupted_write_keeps_the_old_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tc.write_tiny_checkpoint(tmp_path / "cv", variant="custom_voice", size="0.6B")
    before = tree_state(path)

    def interrupted(*_args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(weights, "build_codec_model", interrupted)  # the writer, not the model, is under test
    with pytest.raises(KeyboardInterrupt):
        tc.write_tiny_checkpoint(path, variant="custom_voice", size="0.6B", seed=5)
    assert tree_state(path) == before
    assert [p.name for p in tmp_path.iterdir()] == ["cv"]


def test_unknown_variant_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no tiny checkpoint"):
        tc.write_tiny_checkpoint(tmp_path / "x", variant="voice_design", size="0.6B")


def test_real_codebook_shape(tmp_path: Path) -> None:
    path = tc.write_tiny_checkpoint(tmp_path / "cv", variant="custom_voice", size="1.7B", real_codebook=True)
    marker = json.loads((path / tc.MARKER_FILE).read_text())
    assert (marker["codebook_size"], marker["num_code_groups"], marker["real_codebook"]) == (2048, 16, True)
    model = qwen_tts.Qwen3TTSModel.from_pretrained(str(path), device_map="cpu", dtype=torch.float32)
    talker = model.model.config.talker_config
    assert (talker.vocab_size, talker.num_code_groups) == (3072, 16)
    assert talker.code_predictor_config.vocab_size == 2048
    assert (talker.codec_eos_token_id, talker.spk_id["vivian"]) == (2150, 3065)  # the real ids
    codec = model.model.speech_tokenizer.model.config.decoder_config
    assert (codec.codebook_size, codec.num_quantizers) == (2048, 16)
    torch.manual_seed(0)
    wavs, sr = model.generate_custom_voice(text=TEXT, speaker="Ryan", language="English", max_new_tokens=8)
    assert sr == 24000 and wavs[0].shape[0] % 1920 == 0 and wavs[0].shape[0] > 0
