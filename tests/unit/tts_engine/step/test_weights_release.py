"""Serving with the counter step frees the package's copies of the weights it holds fused (q/k/v
and gate/up of every talker and code-predictor layer): the step's codes do not change, a later
counter model on the same talker is built from what was kept, and the package's forward on a
released layer fails loudly instead of computing with nothing."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.unit.tts_engine.step.counting import real_depth_talker
from tests.unit.tts_engine.step.test_step_counts import MIXED, starts
from tts_engine.step.counter_batch import CounterBatch
from tts_engine.step.weights import FUSED_SOURCES, ReleasedWeightError, release_fused_sources


def source_bytes(talker: Any) -> int:
    total = 0
    for stack in (talker.model, talker.code_predictor.model):
        for layer in stack.layers:
            for part, names in FUSED_SOURCES:
                for name in names:
                    weight = getattr(getattr(layer, part), name).weight
                    total += weight.numel() * weight.element_size()
    return total


def test_releasing_the_fused_sources_frees_them_and_changes_no_code() -> None:
    torch.set_grad_enabled(False)
    kept, released = real_depth_talker(torch.float32), real_depth_talker(torch.float32)  # same seed: twins
    batches = [CounterBatch(talker, max_rows=8, positions=128) for talker in (kept, released)]
    before = source_bytes(released)
    freed = release_fused_sources(released, (batches[1].model.talker, batches[1].model.predictor))
    assert freed == before > 0 and source_bytes(released) == 0
    assert release_fused_sources(released, (batches[1].model.talker, batches[1].model.predictor)) == 0  # once
    later = CounterBatch(released, max_rows=8, positions=128)  # another runner on the released model
    for batch in [*batches, later]:
        batch.admit(starts(kept, 6, MIXED))
    for _ in range(4):
        expected = batches[0].step()
        assert batches[1].step() == expected and later.step() == expected
    with pytest.raises(ReleasedWeightError, match="released"):
        released.model.layers[0].self_attn.q_proj(torch.zeros(1, kept.config.hidden_size))


def test_the_serving_runner_releases_them() -> None:
    from devtools.servers import TINY_DIR
    from tts_engine.config import EngineConfig, Variant
    from tts_engine.loader import load_model
    from tts_engine.scheduling.engine import Engine
    from tts_engine.scheduling.runners import build_runner

    weights = TINY_DIR / "Qwen3-TTS-12Hz-1.7B-CustomVoice"
    config = EngineConfig(
        model_name="custom_voice_1_7b", variant=Variant.CUSTOM_VOICE, size="1.7B", weights=str(weights)
    )
    tts = load_model(config)
    assert source_bytes(tts.model.talker) > 0
    runner = build_runner(Engine.for_model(tts, Variant.CUSTOM_VOICE), config, 4)
    try:
        assert source_bytes(tts.model.talker) == 0
    finally:
        runner.close()
