#!/usr/bin/env python3
"""Write model_repository/: one Triton model per Qwen3-TTS variant and size, plus engine_info.

The folders are generated from the wire contract (`tts_contract`) so that the five TTS models, the
API and the engine cannot drift apart; the result is committed and a unit test checks it is up to
date. Run after changing the contract or the engine's settings defaults:
    python scripts/gen_model_repository.py
"""

from __future__ import annotations

from pathlib import Path

from tts_contract.models import HUB_IDS, INFO_MODEL, triton_model_name
from tts_contract.pbtxt import INFO_CONFIG, tts_config
from tts_engine.config import default_parameters

ROOT = Path(__file__).resolve().parent.parent

MODEL_PY = '''"""Triton entry point of one Qwen3-TTS model (generated): the logic lives in tts_engine."""

from tts_engine.{module} import TritonPythonModel

__all__ = ["TritonPythonModel"]
'''


def render() -> dict[str, str]:
    """Relative path -> file content for the whole repository."""
    files: dict[str, str] = {}
    for size, variant in HUB_IDS:
        name = triton_model_name(size, variant)
        # The engine's settings at their defaults (EngineConfig, the one place they are written);
        # each one's QWEN_TTS_* variable overrides its parameter at run time.
        files[f"{name}/config.pbtxt"] = tts_config(size, variant, default_parameters())
        files[f"{name}/1/model.py"] = MODEL_PY.format(module="serving.triton_model")
    files[f"{INFO_MODEL}/config.pbtxt"] = INFO_CONFIG
    files[f"{INFO_MODEL}/1/model.py"] = MODEL_PY.format(module="serving.info_model")
    return files


def main() -> None:
    out = ROOT / "model_repository"
    for rel, content in render().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
