import json
from pathlib import Path

import pytest

from tts_engine.config import (
    SETTINGS,
    ConfigError,
    Variant,
    chunk_schedule,
    default_parameters,
    parse_engine_config,
    resolve_weights,
    rows_for_device,
    triton_model_name,
)

BASE = {"variant": "custom_voice", "model_size": "1.7B"}
# Each setting: a value for its config.pbtxt parameter and another for its variable, as parsed.
SAMPLES = {
    "device": ("cpu", "cuda:1"),
    "dtype": ("float32", "bfloat16"),
    "attn_implementation": ("sdpa", "eager"),
    "engine": ("grouped", "continuous"),
    "max_batch_rows": (8, 64),
    "stream_chunk_frames": (4, 12),
    "stream_first_chunks": ("1,2", "none"),
    "sampler": ("reference", "counter"),
    "max_positions": (1024, 8192),
    "max_frames_per_text_token": (40, 0),
    "cuda_graphs": ("off", "auto"),
    "kv_cache_mib": (2048, 0),
    "codec_graphs": ("auto", "off"),
    "codec_process": ("on", "off"),
}


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


def test_every_existing_variable_is_a_setting():
    assert {spec.metadata["env"]: spec.name for spec in SETTINGS} == {
        "QWEN_TTS_DEVICE": "device",
        "QWEN_TTS_DTYPE": "dtype",
        "QWEN_TTS_ATTN_IMPLEMENTATION": "attn_implementation",
        "QWEN_TTS_ENGINE": "engine",
        "QWEN_TTS_MAX_BATCH_ROWS": "max_batch_rows",
        "QWEN_TTS_STREAM_CHUNK_FRAMES": "stream_chunk_frames",
        "QWEN_TTS_STREAM_FIRST_CHUNKS": "stream_first_chunks",
        "QWEN_TTS_SAMPLER": "sampler",
        "QWEN_TTS_MAX_POSITIONS": "max_positions",
        "QWEN_TTS_MAX_FRAMES_PER_TEXT_TOKEN": "max_frames_per_text_token",
        "QWEN_TTS_CUDA_GRAPHS": "cuda_graphs",
        "QWEN_TTS_KV_CACHE_MIB": "kv_cache_mib",
        "QWEN_TTS_CODEC_GRAPHS": "codec_graphs",
        "QWEN_TTS_CODEC_PROCESS": "codec_process",
    }
    assert set(SAMPLES) == {spec.name for spec in SETTINGS}


def test_defaults_are_the_dataclass_defaults_and_what_the_generator_writes():
    cfg = parse_engine_config(config_json(**BASE), env={})
    for spec in SETTINGS:
        assert getattr(cfg, spec.name) == spec.default, spec.name
    assert default_parameters() == {
        "device": "auto",
        "dtype": "auto",
        "engine": "continuous",
        "max_batch_rows": "0",
        "stream_chunk_frames": "8",
        "stream_first_chunks": "2,4",
        "sampler": "counter",
        "max_positions": "4096",
        "max_frames_per_text_token": "25",
        "cuda_graphs": "auto",
        "kv_cache_mib": "0",
        "codec_graphs": "off",
        "codec_process": "off",
    }
    # The generated parameters parse back to the same defaults.
    assert parse_engine_config(config_json(**BASE, **default_parameters()), env={}) == cfg


@pytest.mark.parametrize("spec", SETTINGS, ids=lambda spec: spec.name)
def test_each_setting_reads_its_parameter_and_its_variable_wins(spec):
    from_param, from_env = SAMPLES[spec.name]
    var = spec.metadata["env"]
    params = {**BASE, spec.name: str(from_param)}
    assert getattr(parse_engine_config(config_json(**params), env={}), spec.name) == from_param
    assert getattr(parse_engine_config(config_json(**params), env={var: str(from_env)}), spec.name) == from_env
    # An empty variable is unset (compose writes `${VAR:-}`): the parameter stands.
    assert getattr(parse_engine_config(config_json(**params), env={var: ""}), spec.name) == from_param


@pytest.mark.parametrize(
    ("source", "key", "value", "message"),
    [
        ("env", "QWEN_TTS_MAX_BATCH_ROWS", "-1", "between 0 and 1024"),
        ("env", "QWEN_TTS_MAX_BATCH_ROWS", "1025", "between 0 and 1024"),
        ("env", "QWEN_TTS_SAMPLER", "dice", "one of counter, reference"),
        ("env", "QWEN_TTS_MAX_POSITIONS", "10", "between 64 and 1048576"),
        ("param", "stream_chunk_frames", "many", "must be an integer"),
        ("env", "QWEN_TTS_MAX_FRAMES_PER_TEXT_TOKEN", "-1", "between 0 and 1000"),
        ("param", "engine", "turbo", "one of continuous, grouped"),
        ("env", "QWEN_TTS_DTYPE", "int3", "one of auto, float32, bfloat16, float16"),
    ],
)
def test_bad_values_name_the_key(source, key, value, message):
    params, env = (BASE, {key: value}) if source == "env" else ({**BASE, key: value}, {})
    with pytest.raises(ConfigError, match=f"model m: {key} must be .*") as info:
        parse_engine_config(config_json(**params), env=env)
    assert (message in str(info.value) and repr(value) in str(info.value)) or value in str(info.value)


def test_batch_rows_and_chunk_schedule():
    cfg = parse_engine_config(config_json(**BASE), env={})
    assert (rows_for_device(cfg, "cuda:0"), rows_for_device(cfg, "cpu")) == (64, 32)
    assert chunk_schedule(cfg) == (2, 4, 8)
    cfg = parse_engine_config(
        config_json(**BASE), env={"QWEN_TTS_MAX_BATCH_ROWS": "48", "QWEN_TTS_STREAM_FIRST_CHUNKS": "none"}
    )
    assert (rows_for_device(cfg, "cuda:0"), chunk_schedule(cfg)) == (48, (8,))
    for bad in ("2,zero", "0", "2,,4"):
        with pytest.raises(ConfigError, match="stream_first_chunks"):
            parse_engine_config(config_json(**BASE), env={"QWEN_TTS_STREAM_FIRST_CHUNKS": bad})
