"""The real tiny codec (the 0.6B Base checkpoint's speech tokenizer), loaded once per module."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

ROOT = Path(__file__).resolve().parents[4]
TINY = ROOT / ".cache" / "tiny-checkpoints" / "Qwen3-TTS-12Hz-0.6B-Base"


@pytest.fixture(scope="module")
def tts() -> Any:
    if not TINY.is_dir():
        pytest.fail(f"tiny checkpoint missing in {TINY}: run scripts/install.sh")
    from qwen_tts import Qwen3TTSModel

    return Qwen3TTSModel.from_pretrained(str(TINY), device_map="cpu", dtype=torch.float32)
