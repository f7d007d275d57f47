"""Tiny, randomly initialised Qwen3-TTS checkpoints that load through the real `qwen_tts` code.

Real weights cannot be downloaded in offline and CI runs, so tests and offline servers use these:
every file a hub checkpoint has (`config.json`, `model.safetensors`, `generation_config.json`, the
text tokenizer, `speech_tokenizer/` with the 12 Hz codec), with the real structure, control-token
layout, speakers and languages, but hidden sizes of a few dozen and random weights. They speak noise.

`Qwen3TTSModel.from_pretrained(dir, device_map="cpu", dtype=torch.float32)` loads them, and
`generate_custom_voice` / `generate_voice_design` / `generate_voice_clone` run unmodified.
Every checkpoint holds `MARKER_FILE`, which says plainly that its weights are random.

Constraints taken from the package source (C = codebook size, G = code groups; real: 2048 and 16):
the talker vocabulary is exactly C + 1024, the control tokens keep their real offsets from C, the
multimodal RoPE sections sum to head_dim / 2, the speaker encoder takes 128 mel bins and outputs
the talker width, and the codec upsamples 1920 samples per frame (12.5 frames/s at 24 kHz).
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import tempfile
import uuid
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tiny_checkpoints.tokenizer import write_text_tokenizer

log = logging.getLogger(__name__)

# Bump whenever the generated files change, so `write_all` rewrites stale checkpoints.
GENERATOR_VERSION = 1

MARKER_FILE = "TINY_RANDOM_CHECKPOINT.json"

VARIANT_DIRS: dict[tuple[str, str], str] = {
    ("1.7B", "custom_voice"): "Qwen3-TTS-12Hz-1.7B-CustomVoice",
    ("0.6B", "custom_voice"): "Qwen3-TTS-12Hz-0.6B-CustomVoice",
    ("1.7B", "voice_design"): "Qwen3-TTS-12Hz-1.7B-VoiceDesign",
    ("1.7B", "voice_clone"): "Qwen3-TTS-12Hz-1.7B-Base",
    ("0.6B", "voice_clone"): "Qwen3-TTS-12Hz-0.6B-Base",
}

SAMPLE_RATE = 24000
SAMPLES_PER_FRAME = 1920

# Our variant names -> the package's `tts_model_type`; our sizes -> its `tts_model_size`.
_MODEL_TYPES = {"custom_voice": "custom_voice", "voice_design": "voice_design", "voice_clone": "base"}
_MODEL_SIZES = {"1.7B": "1b7", "0.6B": "0b6"}

# Ids below are the real checkpoints' (codebook 2048); a tiny one shifts them to C + (id - 2048).
_REAL_CODEBOOK = 2048
_REAL_CONTROL_IDS = {
    "codec_pad_id": 2148,
    "codec_bos_id": 2149,
    "codec_eos_token_id": 2150,
    "codec_think_id": 2154,
    "codec_nothink_id": 2155,
    "codec_think_bos_id": 2156,
    "codec_think_eos_id": 2157,
}
# Lower-case keys, as the package looks them up (`language.lower()`); dialect keys are hidden from
# `get_supported_languages()` and only selected through a dialect speaker.
_REAL_LANGUAGE_IDS = {
    "chinese": 2055,
    "english": 2050,
    "german": 2053,
    "italian": 2070,
    "portuguese": 2071,
    "spanish": 2054,
    "japanese": 2058,
    "korean": 2064,
    "french": 2061,
    "russian": 2069,
    "beijing_dialect": 2074,
    "sichuan_dialect": 2062,
}
# The CustomVoice preset speakers: (lower-case key, real codec id, dialect language key or False).
_REAL_SPEAKERS: tuple[tuple[str, int, str | bool], ...] = (
    ("serena", 3066, False),
    ("vivian", 3065, False),
    ("uncle_fu", 3010, False),
    ("ryan", 3061, False),
    ("aiden", 2861, False),
    ("ono_anna", 2873, False),
    ("sohee", 2864, False),
    ("eric", 2875, "sichuan_dialect"),
    ("dylan", 2878, "beijing_dialect"),
)
SPEAKERS = ("Vivian", "Serena", "Uncle_Fu", "Dylan", "Eric", "Ryan", "Aiden", "Ono_Anna", "Sohee")
LANGUAGES = (
    "Chinese",
    "English",
    "Japanese",
    "Korean",
    "German",
    "French",
    "Russian",
    "Portuguese",
    "Spanish",
    "Italian",
)

# The real checkpoints' generation_config.json (the wrapper's sampling defaults).
_GENERATION_CONFIG = {
    "do_sample": True,
    "repetition_penalty": 1.05,
    "temperature": 0.9,
    "top_p": 1.0,
    "top_k": 50,
    "subtalker_dosample": True,
    "subtalker_temperature": 0.9,
    "subtalker_top_p": 1.0,
    "subtalker_top_k": 50,
    "max_new_tokens": 8192,
}

# Target RMS of decoded random codes: clearly audible noise, far from clipping.
_TARGET_RMS = 0.1


@dataclass(frozen=True)
class TinyShape:
    """The sizes of one tiny checkpoint."""

    codebook_size: int
    num_code_groups: int
    talker_hidden: int
    predictor_hidden: int
    text_hidden: int = 32
    head_dim: int = 16


def tiny_shape(size: str, real_codebook: bool) -> TinyShape:
    """Sizes for a model size. Like the real pair, "1.7B" has a talker wider than its code predictor
    (so the projection between them exists) and "0.6B" has both the same width."""
    if size not in _MODEL_SIZES:
        raise ValueError(f"unknown size {size!r}: expected one of {sorted(_MODEL_SIZES)}")
    codebook, groups = (2048, 16) if real_codebook else (64, 4)
    talker_hidden = 64 if size == "1.7B" else 32
    return TinyShape(codebook, groups, talker_hidden=talker_hidden, predictor_hidden=32)


def _codec_id(real_id: int, codebook_size: int) -> int:
    return codebook_size + real_id - _REAL_CODEBOOK


def _talker_config(variant: str, shape: TinyShape, text_vocab_size: int) -> dict[str, Any]:
    c = shape.codebook_size
    languages = {name: _codec_id(i, c) for name, i in _REAL_LANGUAGE_IDS.items()}
    if variant != "custom_voice":  # only CustomVoice has the dialect speakers, hence dialect tags
        languages = {name: i for name, i in languages.items() if "dialect" not in name}
    speakers = _REAL_SPEAKERS if variant == "custom_voice" else ()
    return {
        **_transformer_dims(shape.talker_hidden, shape.head_dim, layers=2),
        "vocab_size": c + 1024,
        "text_hidden_size": shape.text_hidden,
        "text_vocab_size": text_vocab_size,
        "num_code_groups": shape.num_code_groups,
        "rope_scaling": {
            "rope_type": "default",
            "mrope_section": _mrope_section(shape.head_dim),
            "interleaved": True,
        },
        **{key: _codec_id(i, c) for key, i in _REAL_CONTROL_IDS.items()},
        "codec_language_id": languages,
        "spk_id": {name: _codec_id(i, c) for name, i, _ in speakers},
        "spk_is_dialect": {name: dialect for name, _, dialect in speakers},
        "code_predictor_config": {
            **_transformer_dims(shape.predictor_hidden, shape.head_dim, layers=1),
            "vocab_size": c,
            "num_code_groups": shape.num_code_groups,
        },
    }


def _transformer_dims(hidden: int, head_dim: int, *, layers: int) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "intermediate_size": 2 * hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "max_position_embeddings": 32768,
        "rms_norm_eps": 1e-6,
        "rope_theta": 1000000,
    }


def _mrope_section(head_dim: int) -> list[int]:
    """Three interleaved sections summing to head_dim / 2, in the real [24, 20, 20] proportions."""
    half = head_dim // 2
    rest = half - 2 * (half * 20 // 64)
    return [rest, (half - rest) // 2, (half - rest) // 2]


def _speaker_encoder_config(shape: TinyShape) -> dict[str, Any]:
    return {
        "mel_dim": 128,  # hard-coded in the package's mel front end
        "enc_dim": shape.talker_hidden,  # the x-vector is used as a talker input embedding
        "enc_channels": [16, 16, 16, 16, 48],
        "enc_kernel_sizes": [5, 3, 3, 3, 1],
        "enc_dilations": [1, 2, 3, 4, 1],
        "enc_attention_channels": 8,
        "enc_res2net_scale": 4,
        "enc_se_channels": 8,
        "sample_rate": SAMPLE_RATE,
    }


def main_config(variant: str, size: str, shape: TinyShape, text_ids: dict[str, int]) -> dict[str, Any]:
    """The checkpoint's `config.json` (model_type `qwen3_tts`)."""
    config: dict[str, Any] = {
        "architectures": ["Qwen3TTSForConditionalGeneration"],
        "model_type": "qwen3_tts",
        "tokenizer_type": "qwen3_tts_tokenizer_12hz",
        "tts_model_size": _MODEL_SIZES[size],
        "tts_model_type": _MODEL_TYPES[variant],
        "im_start_token_id": text_ids["<|im_start|>"],
        "im_end_token_id": text_ids["<|im_end|>"],
        "tts_pad_token_id": text_ids["<tts_pad>"],
        "tts_bos_token_id": text_ids["<tts_text_bos>"],
        "tts_eos_token_id": text_ids["<tts_text_eod>"],
        "talker_config": _talker_config(variant, shape, text_ids["vocab_size"]),
        "transformers_version": "4.57.3",
    }
    if variant == "voice_clone":
        config["speaker_encoder_config"] = _speaker_encoder_config(shape)
    return config


def codec_config(shape: TinyShape) -> dict[str, Any]:
    """`speech_tokenizer/config.json`: the 12 Hz codec (a Mimi encoder and the Qwen decoder)."""
    encoder = {
        "sampling_rate": SAMPLE_RATE,
        "hidden_size": 16,
        "num_filters": 2,
        "upsampling_ratios": [8, 6, 5, 4],  # 960 samples, then a stride-2 downsample: 1920 per frame
        "codebook_size": shape.codebook_size,
        "codebook_dim": 8,
        "vector_quantization_hidden_dimension": 8,
        "num_quantizers": shape.num_code_groups,
        "num_semantic_quantizers": 1,
        "upsample_groups": 16,
        "num_hidden_layers": 1,
        "intermediate_size": 32,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "sliding_window": 250,
        "use_causal_conv": True,
    }
    decoder = {
        "codebook_size": shape.codebook_size,
        "codebook_dim": 16,
        "hidden_size": 16,
        "latent_dim": 16,
        "intermediate_size": 32,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "head_dim": 8,
        "num_hidden_layers": 1,
        "num_quantizers": shape.num_code_groups,
        "sliding_window": 72,
        "upsample_rates": [8, 5, 4, 3],
        "upsampling_ratios": [2, 2],  # 8 * 5 * 4 * 3 * 2 * 2 = 1920 samples per frame
        "decoder_dim": 32,
    }
    return {
        "architectures": ["Qwen3TTSTokenizerV2Model"],
        "model_type": "qwen3_tts_tokenizer_12hz",
        "encoder_config": encoder,
        "decoder_config": decoder,
        "encoder_valid_num_quantizers": shape.num_code_groups,
        "input_sample_rate": SAMPLE_RATE,
        "output_sample_rate": SAMPLE_RATE,
        "decode_upsample_rate": SAMPLES_PER_FRAME,
        "encode_downsample_rate": SAMPLES_PER_FRAME,
        "transformers_version": "4.57.3",
    }


_PREPROCESSOR_CONFIG = {
    "chunk_length_s": None,
    "feature_extractor_type": "EncodecFeatureExtractor",
    "feature_size": 1,
    "overlap": None,
    "padding_side": "right",
    "padding_value": 0.0,
    "return_attention_mask": True,
    "sampling_rate": SAMPLE_RATE,
}


def _derived_seed(seed: int, *parts: str) -> int:
    """A stable per-part seed (the same on every run and machine)."""
    return zlib.crc32(":".join([str(seed), *parts]).encode("utf-8"))


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator for the block, leaving the caller's random state untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _build_main_model(config: dict[str, Any], seed: int) -> Any:
    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration

    kwargs = {k: v for k, v in config.items() if k not in ("model_type", "transformers_version")}
    with _seeded(seed):
        return Qwen3TTSForConditionalGeneration(Qwen3TTSConfig(**kwargs)).eval()


def _build_codec_model(config: dict[str, Any], seed: int) -> Any:
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Config
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Model

    kwargs = {k: v for k, v in config.items() if k not in ("model_type", "transformers_version")}
    with _seeded(seed):
        model = Qwen3TTSTokenizerV2Model(Qwen3TTSTokenizerV2Config(**kwargs)).eval()
        _randomise_codebooks(model)
        _randomise_decoder(model.decoder)
        _calibrate_loudness(model.decoder, config["decoder_config"])
    return model


def _randomise_codebooks(codec: Any) -> None:
    """Codebook tables start at zero (every code decodes to silence, every frame encodes to code 0)."""
    import torch

    with torch.no_grad():
        for name, tensor in codec.state_dict(keep_vars=True).items():
            if name.endswith(("_codebook.embedding_sum", "codebook.embed_sum")):
                tensor.normal_(0.0, 1.0)


def _randomise_decoder(decoder: Any) -> None:
    """Variance-preserving init for the vocoder: the default (std 0.02) outputs about 1e-9."""
    import torch
    from torch import nn

    with torch.no_grad():
        for module in decoder.modules():
            if isinstance(module, nn.ConvTranspose1d):
                fan_in = module.in_channels * module.kernel_size[0] / module.stride[0]
            elif isinstance(module, nn.Conv1d):
                fan_in = module.in_channels // module.groups * module.kernel_size[0]
            elif isinstance(module, nn.Linear):
                fan_in = module.in_features
            else:
                continue
            module.weight.normal_(0.0, 1.0 / math.sqrt(fan_in))
            if module.bias is not None:
                module.bias.zero_()


def _calibrate_loudness(decoder: Any, decoder_config: dict[str, Any]) -> None:
    """Scale the last convolution so that random codes decode to noise at `_TARGET_RMS`."""
    import torch

    last_conv = decoder.decoder[-1].conv
    codes = torch.randint(0, decoder_config["codebook_size"], (2, decoder_config["num_quantizers"], 16))
    captured: list[torch.Tensor] = []
    handle = last_conv.register_forward_hook(lambda _m, _i, out: captured.append(out))
    with torch.no_grad():
        decoder(codes)
        handle.remove()
        rms = float(captured[0].pow(2).mean().sqrt())
        last_conv.weight.mul_(_TARGET_RMS / max(rms, 1e-12))


def _save_weights(model: Any, path: Path) -> None:
    """`model.safetensors` with tensors in name order and fixed metadata: same weights, same bytes."""
    from safetensors.torch import save_file

    state = {name: tensor.detach().contiguous() for name, tensor in sorted(model.state_dict().items())}
    save_file(state, str(path), metadata={"format": "pt"})
    os.chmod(path, 0o644)  # safetensors creates the file private (0600)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _marker(variant: str, size: str, shape: TinyShape, seed: int, real_codebook: bool) -> dict[str, Any]:
    return {
        "tiny_random": True,
        "generator_version": GENERATOR_VERSION,
        "variant": variant,
        "size": size,
        "hub_name": VARIANT_DIRS[(size, variant)],
        "codebook_size": shape.codebook_size,
        "num_code_groups": shape.num_code_groups,
        "real_codebook": real_codebook,
        "seed": seed,
        "note": "Random weights for tests and offline runs: this model outputs noise, not speech.",
    }


def _write_files(out_dir: Path, variant: str, size: str, shape: TinyShape, seed: int) -> None:
    """Every file of one checkpoint, into an existing empty directory."""
    text_ids = write_text_tokenizer(out_dir)
    config = main_config(variant, size, shape, text_ids)
    _write_json(out_dir / "config.json", config)
    _write_json(out_dir / "generation_config.json", _GENERATION_CONFIG)
    model = _build_main_model(config, _derived_seed(seed, variant, size))
    _save_weights(model, out_dir / "model.safetensors")
    codec_dir = out_dir / "speech_tokenizer"
    codec_dir.mkdir()
    codec = codec_config(shape)
    _write_json(codec_dir / "config.json", codec)
    _write_json(codec_dir / "preprocessor_config.json", _PREPROCESSOR_CONFIG)
    # One codec per (seed, shape), shared by all variants like the real 12 Hz tokenizer.
    codec_seed = _derived_seed(seed, "codec", str(shape.codebook_size), str(shape.num_code_groups))
    _save_weights(_build_codec_model(codec, codec_seed), codec_dir / "model.safetensors")


def _check_variant(variant: str, size: str) -> None:
    if (size, variant) not in VARIANT_DIRS:
        known = sorted(VARIANT_DIRS)
        raise ValueError(f"no tiny checkpoint for size={size!r} variant={variant!r}: known {known}")


def read_marker(out_dir: Path) -> dict[str, Any] | None:
    """The marker of a tiny checkpoint directory, or None if there is none (or it is unreadable)."""
    try:
        data = json.loads((Path(out_dir) / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def checkpoint_is_current(
    out_dir: Path, *, variant: str, size: str, real_codebook: bool = False, seed: int = 0
) -> bool:
    """True if `out_dir` already holds this generator version's checkpoint for these parameters."""
    _check_variant(variant, size)
    expected = _marker(variant, size, tiny_shape(size, real_codebook), seed, real_codebook)
    weights = [Path(out_dir) / "model.safetensors", Path(out_dir) / "speech_tokenizer" / "model.safetensors"]
    return read_marker(out_dir) == expected and all(path.is_file() for path in weights)


def write_tiny_checkpoint(
    out_dir: Path, *, variant: str, size: str, real_codebook: bool = False, seed: int = 0
) -> Path:
    """Write one tiny random checkpoint to `out_dir` (replacing what is there) and return its path.

    The files are written into a temporary sibling directory that is renamed into place at the end,
    so an interrupted run never leaves a half-written checkpoint at `out_dir`. The same arguments
    always give byte-identical weight files.
    """
    _check_variant(variant, size)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    shape = tiny_shape(size, real_codebook)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _write_files(scratch, variant, size, shape, seed)
        # The marker goes last: a directory with a marker is complete.
        _write_json(scratch / MARKER_FILE, _marker(variant, size, shape, seed, real_codebook))
        _replace_dir(scratch, out_dir)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out_dir


def _replace_dir(new: Path, target: Path) -> None:
    """Move the finished directory `new` to `target`, moving an old `target` aside first."""
    os.chmod(new, 0o755)  # mkdtemp creates 0700
    if not target.exists():
        new.rename(target)
        return
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex}"
    target.rename(old)
    try:
        new.rename(target)
    except BaseException:
        old.rename(target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_all(
    root: Path,
    *,
    real_codebook: bool = False,
    seed: int = 0,
    force: bool = False,
    on_result: Callable[[Path, bool], None] | None = None,
) -> list[Path]:
    """Write the five tiny checkpoints under `root` (one hub-named folder each) and return their paths.

    A folder whose marker already matches these parameters and this generator version is kept as it
    is, unless `force`. `on_result(path, written)` is called after each folder (written or skipped).
    """
    paths = []
    for (size, variant), name in VARIANT_DIRS.items():
        path = Path(root) / name
        skip = not force and checkpoint_is_current(
            path, variant=variant, size=size, real_codebook=real_codebook, seed=seed
        )
        if not skip:
            write_tiny_checkpoint(path, variant=variant, size=size, real_codebook=real_codebook, seed=seed)
        log.info("%s tiny checkpoint %s", "kept" if skip else "wrote", path)
        if on_result is not None:
            on_result(path, not skip)
        paths.append(path)
    return paths
