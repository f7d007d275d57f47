"""The codec's masks made once per length: the same audio, bit for bit, as the package's own decode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tts_engine.codec.masks import install

ROOT = Path(__file__).resolve().parents[4]
TINY = ROOT / ".cache" / "tiny-checkpoints" / "Qwen3-TTS-12Hz-0.6B-Base"


def load() -> Any:
    if not TINY.is_dir():
        pytest.fail(f"tiny checkpoint missing in {TINY}: run scripts/install.sh")
    from qwen_tts import Qwen3TTSModel

    return Qwen3TTSModel.from_pretrained(str(TINY), device_map="cpu", dtype=torch.float32)


def codes(tts: Any, lengths: list[int], seed: int) -> list[dict[str, torch.Tensor]]:
    config = tts.model.speech_tokenizer.model.config.decoder_config
    g = torch.Generator().manual_seed(seed)
    return [
        {"audio_codes": torch.randint(0, config.codebook_size, (n, config.num_quantizers), generator=g)}
        for n in lengths
    ]


def test_cached_masks_decode_exactly_as_the_package_and_are_built_once_per_length() -> None:
    plain, cached = load(), load()
    cache = install(cached.model.speech_tokenizer)
    assert install(cached.model.speech_tokenizer) is cache  # once per model
    window = cached.model.speech_tokenizer.model.decoder.pre_transformer.config.sliding_window
    # one row, rows of one length, rows padded to the longest, and spans past the sliding window
    calls = [[16], [16, 16, 16], [5, 16, 9], [window + 20, 30], [16, 16]]
    with torch.no_grad():
        for seed, lengths in enumerate(calls):
            batch = codes(plain, lengths, seed)
            expected, _ = plain.model.speech_tokenizer.decode(batch)
            got, _ = cached.model.speech_tokenizer.decode(batch)
            for want, have in zip(expected, got, strict=True):
                assert want.shape == have.shape and (want == have).all()
    assert cache.built == 2  # 16 frames (every call but one: the package pads a call to its longest row), window + 20
