"""The `config.json` files of a tiny checkpoint: the real architecture at a few dozen hidden units,
or at the real sizes (`real_shape`: random weights that cost what the real ones cost, for the GPU check).

Constraints taken from the package source (C = codebook size, G = code groups; real: 2048 and 16):
the talker vocabulary is exactly C + 1024, the control tokens keep their real offsets from C, the
multimodal RoPE sections sum to head_dim / 2, the speaker encoder takes 128 mel bins and outputs
the talker width, and the codec upsamples 1920 samples per frame (12.5 frames/s at 24 kHz).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tiny_checkpoints.ids import (
    MODEL_SIZES,
    MODEL_TYPES,
    REAL_CODEBOOK,
    REAL_CONTROL_IDS,
    REAL_LANGUAGE_IDS,
    REAL_SPEAKERS,
)

SAMPLE_RATE = 24000
SAMPLES_PER_FRAME = 1920


@dataclass(frozen=True)
class TinyShape:
    """The sizes of one checkpoint (tiny unless said otherwise)."""

    codebook_size: int
    num_code_groups: int
    talker_hidden: int
    predictor_hidden: int
    text_hidden: int = 32
    head_dim: int = 16
    talker_layers: int = 2
    predictor_layers: int = 1
    heads: int = 2
    kv_heads: int = 1
    mlp_ratio: int = 2
    text_vocab: int = 0
    """Text embedding rows; 0: as many as the tiny tokenizer has."""
    real_codec: bool = False


REAL_SHAPES = {
    # Qwen3-TTS-12Hz-1.7B-*: talker 28 x 2048 (16 heads, 8 KV heads of 128), code predictor 5 x 1024,
    # the Qwen text vocabulary; the published config.json files.
    "1.7B": TinyShape(
        2048, 16, 2048, 1024, text_hidden=2048, head_dim=128, talker_layers=28, predictor_layers=5,
        heads=16, kv_heads=8, mlp_ratio=3, text_vocab=151936, real_codec=True,
    ),
}  # fmt: skip


def real_shape(size: str) -> TinyShape:
    """The real model's sizes (only those whose published configs are known here)."""
    if size not in REAL_SHAPES:
        raise ValueError(f"no real dimensions known for size {size!r}: known {sorted(REAL_SHAPES)}")
    return REAL_SHAPES[size]


def tiny_shape(size: str, real_codebook: bool) -> TinyShape:
    """Sizes for a model size. Like the real pair, "1.7B" has a talker wider than its code predictor
    (so the projection between them exists) and "0.6B" has both the same width."""
    if size not in MODEL_SIZES:
        raise ValueError(f"unknown size {size!r}: expected one of {sorted(MODEL_SIZES)}")
    codebook, groups = (2048, 16) if real_codebook else (64, 4)
    talker_hidden = 64 if size == "1.7B" else 32
    return TinyShape(codebook, groups, talker_hidden=talker_hidden, predictor_hidden=32)


def _codec_id(real_id: int, codebook_size: int) -> int:
    return codebook_size + real_id - REAL_CODEBOOK


def _talker_config(variant: str, shape: TinyShape, text_vocab_size: int) -> dict[str, Any]:
    c = shape.codebook_size
    languages = {name: _codec_id(i, c) for name, i in REAL_LANGUAGE_IDS.items()}
    if variant != "custom_voice":  # only CustomVoice has the dialect speakers, hence dialect tags
        languages = {name: i for name, i in languages.items() if "dialect" not in name}
    speakers = REAL_SPEAKERS if variant == "custom_voice" else ()
    return {
        **_transformer_dims(shape, shape.talker_hidden, layers=shape.talker_layers),
        "vocab_size": c + 1024,
        "text_hidden_size": shape.text_hidden,
        "text_vocab_size": shape.text_vocab or text_vocab_size,
        "num_code_groups": shape.num_code_groups,
        "rope_scaling": {
            "rope_type": "default",
            "mrope_section": _mrope_section(shape.head_dim),
            "interleaved": True,
        },
        **{key: _codec_id(i, c) for key, i in REAL_CONTROL_IDS.items()},
        "codec_language_id": languages,
        "spk_id": {name: _codec_id(i, c) for name, i, _ in speakers},
        "spk_is_dialect": {name: dialect for name, _, dialect in speakers},
        "code_predictor_config": {
            **_transformer_dims(shape, shape.predictor_hidden, layers=shape.predictor_layers),
            "vocab_size": c,
            "num_code_groups": shape.num_code_groups,
        },
    }


def _transformer_dims(shape: TinyShape, hidden: int, *, layers: int) -> dict[str, Any]:
    return {
        "hidden_size": hidden,
        "intermediate_size": shape.mlp_ratio * hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": shape.heads,
        "num_key_value_heads": shape.kv_heads,
        "head_dim": shape.head_dim,
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
    real = shape.real_codec  # the real ECAPA-TDNN sizes, or a few channels
    channels, attention, scale, se = ([512] * 4 + [1536], 128, 8, 128) if real else ([16] * 4 + [48], 8, 4, 8)
    return {
        "mel_dim": 128,  # hard-coded in the package's mel front end
        "enc_dim": shape.talker_hidden,  # the x-vector is used as a talker input embedding
        "enc_channels": channels,
        "enc_kernel_sizes": [5, 3, 3, 3, 1],
        "enc_dilations": [1, 2, 3, 4, 1],
        "enc_attention_channels": attention,
        "enc_res2net_scale": scale,
        "enc_se_channels": se,
        "sample_rate": SAMPLE_RATE,
    }


def main_config(variant: str, size: str, shape: TinyShape, text_ids: dict[str, int]) -> dict[str, Any]:
    """The checkpoint's `config.json` (model_type `qwen3_tts`)."""
    config: dict[str, Any] = {
        "architectures": ["Qwen3TTSForConditionalGeneration"],
        "model_type": "qwen3_tts",
        "tokenizer_type": "qwen3_tts_tokenizer_12hz",
        "tts_model_size": MODEL_SIZES[size],
        "tts_model_type": MODEL_TYPES[variant],
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
    if shape.real_codec:
        encoder.update(REAL_ENCODER)
        decoder.update(REAL_DECODER)
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


# The real 12 Hz codec: a Mimi encoder at its published sizes, and the Qwen decoder's.
REAL_ENCODER = {
    "hidden_size": 512, "num_filters": 64, "codebook_dim": 256, "vector_quantization_hidden_dimension": 256,
    "upsample_groups": 512, "num_hidden_layers": 8, "intermediate_size": 2048, "num_attention_heads": 8,
    "num_key_value_heads": 8, "head_dim": 64,
}  # fmt: skip
REAL_DECODER = {
    "codebook_dim": 512, "hidden_size": 512, "latent_dim": 1024, "intermediate_size": 1024, "num_attention_heads": 16,
    "num_key_value_heads": 16, "head_dim": 64, "num_hidden_layers": 8, "decoder_dim": 1536,
}  # fmt: skip

PREPROCESSOR_CONFIG = {
    "chunk_length_s": None,
    "feature_extractor_type": "EncodecFeatureExtractor",
    "feature_size": 1,
    "overlap": None,
    "padding_side": "right",
    "padding_value": 0.0,
    "return_attention_mask": True,
    "sampling_rate": SAMPLE_RATE,
}
