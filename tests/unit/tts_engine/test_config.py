import json
from pathlib import Path

import pytest

from tts_engine.config import ConfigError, Variant, parse_engine_config, resolve_weights, triton_model_name


def config_json(**params: str) -> str:
    return json.dumps({"name": "m", "parameters": {k: {"string_value": v} for k, v in params.items()}})


def test_parses_variant_size_and_defaults():
    cfg = parse_engine_config(config_json(variant="custom_voice", model_size="1.7B"), env={})
    assert cfg.variant is Variant.CUSTOM_VOICE
    assert cfg.weights == "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice"
    assert (cfg.device, cfg.dtype) == ("auto", "auto")


def test_environment_overrides_parameters():
    cfg = parse_engine_config(
        config_json(variant="voice_clone", model_size="0.6B", dtype="float32"),
        env={"QWEN_TTS_DTYPE": "bfloat16", "QWEN_TTS_DEVICE": "cuda:1"},
    )
    assert (cfg.dtype, cfg.device) == ("bfloat16", "cuda:1")


@pytest.mark.parametrize(
    "params",
    [
        {"variant": "talking_cat", "model_size": "1.7B"},
        {"variant": "voice_design", "model_size": "0.6B"},  # no 0.6B VoiceDesign upstream
        {"variant": "custom_voice", "model_size": "1.7B", "dtype": "int3"},
    ],
)
def test_misconfiguration_refuses_to_load(params):
    with pytest.raises(ConfigError):
        parse_engine_config(config_json(**params), env={})


def test_weights_resolution_order(tmp_path: Path):
    hub = "Qwen/Qwen3-TTS-12Hz-1.7B-Base"
    assert resolve_weights("voice_clone_1_7b", hub, {"QWEN_TTS_WEIGHTS_DIR": str(tmp_path)}) == hub
    (tmp_path / "Qwen3-TTS-12Hz-1.7B-Base").mkdir()
    local = str(tmp_path / "Qwen3-TTS-12Hz-1.7B-Base")
    assert resolve_weights("voice_clone_1_7b", hub, {"QWEN_TTS_WEIGHTS_DIR": str(tmp_path)}) == local
    env = {"QWEN_TTS_WEIGHTS_DIR": str(tmp_path), "QWEN_TTS_WEIGHTS_VOICE_CLONE_1_7B": "/models/x"}
    assert resolve_weights("voice_clone_1_7b", hub, env) == "/models/x"


def test_model_names():
    assert triton_model_name("1.7B", Variant.CUSTOM_VOICE) == "custom_voice_1_7b"
    assert triton_model_name("0.6B", "voice_clone") == "voice_clone_0_6b"


def test_engine_settings_from_parameters_then_environment():
    base = {"variant": "custom_voice", "model_size": "1.7B"}
    cfg = parse_engine_config(config_json(**base), env={})
    assert (cfg.engine, cfg.max_batch_rows, cfg.stream_chunk_frames, cfg.max_frames_per_text_token) == (
        "continuous",
        32,
        8,
        25,
    )
    cfg = parse_engine_config(
        config_json(**base, engine="grouped", max_batch_rows="8", max_frames_per_text_token="40"),
        env={"QWEN_TTS_MAX_BATCH_ROWS": "64", "QWEN_TTS_MAX_FRAMES_PER_TEXT_TOKEN": "0"},
    )
    assert (cfg.engine, cfg.max_batch_rows, cfg.max_frames_per_text_token) == ("grouped", 64, 0)


@pytest.mark.parametrize(
    "env",
    [
        {"QWEN_TTS_ENGINE": "turbo"},
        {"QWEN_TTS_MAX_BATCH_ROWS": "0"},
        {"QWEN_TTS_STREAM_CHUNK_FRAMES": "many"},
        {"QWEN_TTS_MAX_FRAMES_PER_TEXT_TOKEN": "-1"},
    ],
)
def test_bad_engine_settings_refuse_to_load(env):
    with pytest.raises(ConfigError):
        parse_engine_config(config_json(variant="custom_voice", model_size="1.7B"), env=env)
