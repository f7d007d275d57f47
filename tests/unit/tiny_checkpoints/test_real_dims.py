"""Real-size random checkpoints (the GPU check's): their configs build the published 1.7B sizes.
Built on the meta device here (no memory, no time); the GPU check writes them on the GPU."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("qwen_tts")

from tiny_checkpoints import configs  # noqa: E402
from tiny_checkpoints.checkpoint import _marker  # noqa: E402

TEXT_IDS = {"<|im_start|>": 1, "<|im_end|>": 2, "<tts_pad>": 3, "<tts_text_bos>": 4, "<tts_text_eod>": 5}
TEXT_IDS["vocab_size"] = 300


def parameters(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("variant", ["custom_voice", "voice_clone"])
def test_real_dims_build_the_published_1_7b_architecture(variant: str) -> None:
    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration

    shape = configs.real_shape("1.7B")
    config = configs.main_config(variant, "1.7B", shape, TEXT_IDS)
    kwargs = {k: v for k, v in config.items() if k not in ("model_type", "transformers_version")}
    with torch.device("meta"):
        model = Qwen3TTSForConditionalGeneration(Qwen3TTSConfig(**kwargs))
    talker = model.talker
    assert len(talker.model.layers) == 28 and len(talker.code_predictor.model.layers) == 5
    assert talker.model.text_embedding.weight.shape == (151936, 2048)
    assert talker.codec_head.weight.shape == (3072, 2048)
    assert talker.code_predictor.lm_head[0].weight.shape == (2048, 1024)
    attention = talker.model.layers[0].self_attn
    assert attention.k_proj.weight.shape == (8 * 128, 2048) and attention.q_proj.weight.shape == (16 * 128, 2048)
    # about 1.9 B parameters with the text embedding, as the published checkpoints (speaker encoder: Base only)
    assert 1.8e9 < parameters(model) < 2.0e9
    assert (model.speaker_encoder is not None) == (variant == "voice_clone")


def test_real_dims_codec_builds_at_its_published_size() -> None:
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Config
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Model

    codec = configs.codec_config(configs.real_shape("1.7B"))
    kwargs = {k: v for k, v in codec.items() if k not in ("model_type", "transformers_version")}
    with torch.device("meta"):
        model = Qwen3TTSTokenizerV2Model(Qwen3TTSTokenizerV2Config(**kwargs))
    assert len(model.decoder.pre_transformer.layers) == 8
    assert 50e6 < parameters(model.decoder) < 300e6


def test_only_known_real_sizes_and_the_marker_says_so() -> None:
    with pytest.raises(ValueError, match="no real dimensions"):
        configs.real_shape("0.6B")
    marker = _marker("custom_voice", "1.7B", configs.real_shape("1.7B"), 0, True)
    assert marker["real_dims"] is True and marker["tiny_random"] is True
    assert "real_dims" not in _marker("custom_voice", "1.7B", configs.tiny_shape("1.7B", True), 0, True)
