"""Random weights for a tiny checkpoint: seeded, byte-identical for the same seed, audible codec.

The defaults of the package's initialisation decode every code to silence (zero codebooks, a vocoder
whose output is about 1e-9), so the codec is re-initialised and its loudness calibrated.
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Target RMS of decoded random codes: clearly audible noise, far from clipping.
_TARGET_RMS = 0.1


def derived_seed(seed: int, *parts: str) -> int:
    """A stable per-part seed (the same on every run and machine)."""
    return zlib.crc32(":".join([str(seed), *parts]).encode("utf-8"))


@contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed torch's CPU generator for the block, leaving the caller's random state untouched."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_main_model(config: dict[str, Any], seed: int, device: str = "cpu") -> Any:
    """The model with seeded random weights, made on `device` (a GPU inits real sizes in seconds)."""
    import torch
    from qwen_tts.core.models import Qwen3TTSConfig, Qwen3TTSForConditionalGeneration

    kwargs = {k: v for k, v in config.items() if k not in ("model_type", "transformers_version")}
    with _seeded(seed), torch.device(device):
        # .to(device): a buffer made from numpy (torch.from_numpy) ignores the device context
        return Qwen3TTSForConditionalGeneration(Qwen3TTSConfig(**kwargs)).eval().to(device)


def build_codec_model(config: dict[str, Any], seed: int, device: str = "cpu") -> Any:
    import torch
    from qwen_tts.core.tokenizer_12hz.configuration_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Config
    from qwen_tts.core.tokenizer_12hz.modeling_qwen3_tts_tokenizer_v2 import Qwen3TTSTokenizerV2Model

    kwargs = {k: v for k, v in config.items() if k not in ("model_type", "transformers_version")}
    with _seeded(seed), torch.device(device):
        model = Qwen3TTSTokenizerV2Model(Qwen3TTSTokenizerV2Config(**kwargs)).eval().to(device)
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
    shape = (2, decoder_config["num_quantizers"], 16)
    codes = torch.randint(0, decoder_config["codebook_size"], shape, device=last_conv.weight.device)
    captured: list[torch.Tensor] = []
    handle = last_conv.register_forward_hook(lambda _m, _i, out: captured.append(out))
    with torch.no_grad():
        decoder(codes)
        handle.remove()
        rms = float(captured[0].pow(2).mean().sqrt())
        last_conv.weight.mul_(_TARGET_RMS / max(rms, 1e-12))


def save_weights(model: Any, path: Path, dtype: Any = None) -> None:
    """`model.safetensors` with tensors in name order and fixed metadata: same weights, same bytes.
    `dtype` converts the floating-point tensors (bf16 halves the real sizes' files)."""
    from safetensors.torch import save_file

    def stored(tensor: Any) -> Any:
        tensor = tensor.detach()
        return (tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor).contiguous().cpu()

    state = {name: stored(tensor) for name, tensor in sorted(model.state_dict().items())}
    save_file(state, str(path), metadata={"format": "pt"})
    os.chmod(path, 0o644)  # safetensors creates the file private (0600)
