"""Write tiny random Qwen3-TTS checkpoints: every file a hub checkpoint has, atomically, kept when current.

Real weights cannot be downloaded in offline and CI runs, so tests and offline servers use these:
every file a hub checkpoint has (`config.json`, `model.safetensors`, `generation_config.json`, the
text tokenizer, `speech_tokenizer/` with the 12 Hz codec), with the real structure, control-token
layout, speakers and languages, but hidden sizes of a few dozen and random weights. They speak noise.

`Qwen3TTSModel.from_pretrained(dir, device_map="cpu", dtype=torch.float32)` loads them, and
`generate_custom_voice` / `generate_voice_design` / `generate_voice_clone` run unmodified.
Every checkpoint holds `MARKER_FILE`, which says plainly that its weights are random.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tiny_checkpoints import weights
from tiny_checkpoints.configs import PREPROCESSOR_CONFIG, TinyShape, codec_config, main_config, real_shape, tiny_shape
from tiny_checkpoints.ids import GENERATION_CONFIG, VARIANT_DIRS
from tiny_checkpoints.tokenizer import write_text_tokenizer

log = logging.getLogger(__name__)

# Bump whenever the generated files change, so `write_all` rewrites stale checkpoints.
GENERATOR_VERSION = 1

MARKER_FILE = "TINY_RANDOM_CHECKPOINT.json"


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _marker(variant: str, size: str, shape: TinyShape, seed: int, real_codebook: bool) -> dict[str, Any]:
    real_dims = {"real_dims": True} if shape.real_codec else {}
    return {
        **real_dims,
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


def _write_files(out_dir: Path, variant: str, size: str, shape: TinyShape, seed: int, device: str, dtype: Any) -> None:
    """Every file of one checkpoint, into an existing empty directory."""
    text_ids = write_text_tokenizer(out_dir)
    config = main_config(variant, size, shape, text_ids)
    _write_json(out_dir / "config.json", config)
    _write_json(out_dir / "generation_config.json", GENERATION_CONFIG)
    model = weights.build_main_model(config, weights.derived_seed(seed, variant, size), device)
    weights.save_weights(model, out_dir / "model.safetensors", dtype)
    del model
    codec_dir = out_dir / "speech_tokenizer"
    codec_dir.mkdir()
    codec = codec_config(shape)
    _write_json(codec_dir / "config.json", codec)
    _write_json(codec_dir / "preprocessor_config.json", PREPROCESSOR_CONFIG)
    # One codec per (seed, shape), shared by all variants like the real 12 Hz tokenizer.
    codec_seed = weights.derived_seed(seed, "codec", str(shape.codebook_size), str(shape.num_code_groups))
    weights.save_weights(weights.build_codec_model(codec, codec_seed, device), codec_dir / "model.safetensors", dtype)


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
    out_dir: Path,
    *,
    variant: str,
    size: str,
    real_codebook: bool = False,
    seed: int = 0,
    real_dims: bool = False,
    device: str = "cpu",
    dtype: Any = None,
) -> Path:
    """Write one tiny random checkpoint to `out_dir` (replacing what is there) and return its path.

    The files are written into a temporary sibling directory that is renamed into place at the end,
    so an interrupted run never leaves a half-written checkpoint at `out_dir`. The same arguments
    always give byte-identical weight files. `real_dims`: the real model's sizes (random weights that
    cost what real ones cost; gigabytes: make them on a GPU with `device`, store them in `dtype`).
    """
    _check_variant(variant, size)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    shape = real_shape(size) if real_dims else tiny_shape(size, real_codebook)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        _write_files(scratch, variant, size, shape, seed, device, dtype)
        # The marker goes last: a directory with a marker is complete.
        _write_json(scratch / MARKER_FILE, _marker(variant, size, shape, seed, real_codebook or real_dims))
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
