"""Several models on one GPU: each model's KV cache bounded by QWEN_TTS_KV_CACHE_MIB keeps the rows
that fit (requests beyond them wait for a free row: the loop's capacity), and a bound that holds no
row stops the model loading with a message naming both settings, never a failure at run time."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from tts_engine.config import ConfigError, parse_engine_config
from tts_engine.scheduling.runners import kv_row_bytes, pool_rows

# 1.7B's talker: 28 layers, 8 KV heads of 128, bf16: 112 KiB per position
REAL = SimpleNamespace(num_key_value_heads=8, head_dim=128, hidden_size=2048, num_attention_heads=16)


def fake_tts(dtype: torch.dtype = torch.bfloat16) -> Any:
    talker = SimpleNamespace(model=SimpleNamespace(config=REAL, layers=[None] * 28), dtype=dtype)
    return SimpleNamespace(model=SimpleNamespace(talker=talker))


def config(**params: str) -> Any:
    parameters = {"variant": "custom_voice", "model_size": "1.7B", **params}
    text = json.dumps(
        {"name": "custom_voice_1_7b", "parameters": {k: {"string_value": v} for k, v in parameters.items()}}
    )
    return parse_engine_config(text, env={})


def test_a_row_takes_its_positions_of_every_layers_keys_and_values() -> None:
    assert kv_row_bytes(fake_tts(), config(max_positions="4096")) == 4096 * 28 * 2 * 8 * 128 * 2  # 448 MiB
    assert pool_rows(fake_tts(), config(max_positions="4096"), 64) == (64, 64 * 448 * 2**20)


def test_a_bound_keeps_the_rows_that_fit() -> None:
    assert pool_rows(fake_tts(), config(max_positions="4096", kv_cache_mib="10000"), 64) == (22, 22 * 448 * 2**20)
    assert pool_rows(fake_tts(), config(max_positions="1024", kv_cache_mib="10000"), 64)[0] == 64  # all fit


def test_a_bound_that_holds_no_row_stops_the_model_loading() -> None:
    with pytest.raises(ConfigError, match=r"QWEN_TTS_KV_CACHE_MIB=100 holds no row of QWEN_TTS_MAX_POSITIONS=4096"):
        pool_rows(fake_tts(), config(kv_cache_mib="100"), 64)


def test_nothing_is_preallocated_by_the_reference_sampler_or_the_grouped_engine() -> None:
    assert pool_rows(fake_tts(), config(sampler="reference", kv_cache_mib="100"), 32) == (32, 0)
    assert pool_rows(fake_tts(), config(engine="grouped"), 32) == (32, 0)
