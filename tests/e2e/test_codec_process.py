"""QWEN_TTS_CODEC_PROCESS=on through the real Triton server: the model decodes audio in two child
processes of its own (one per codec lane), whole and streamed answers carry the same seeded audio
as the session's server decoding in process, and the children go with the server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from api.inference.tensors import SynthesisCall, build_inputs
from devtools.servers import TritonServer, run_triton
from devtools.streaming import stream

pytestmark = pytest.mark.e2e

MODEL = "custom_voice_1_7b"
CALL = {"text": "Hello from a child process.", "language": "English", "speaker": "Ryan", "max_new_tokens": 60}
FRAME = 1920  # samples of one codec frame


def codec_children() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not a process
            continue
        if b"tts_engine.codec.remote" in command:
            found.append(int(entry.name))
    return found


def audio(url: str, seed: int, *, streamed: bool) -> tuple[np.ndarray, int]:
    answer = stream(url, MODEL, build_inputs(SynthesisCall(**CALL, seed=seed, stream=streamed)))
    return answer.audio(), len(answer.results)


def long_seed(url: str) -> int:
    """A seed whose row makes at least 16 frames (random weights stop at random: some rows are short)."""
    return next(seed for seed in range(32) if audio(url, seed, streamed=False)[0].size >= 16 * FRAME)


def test_the_codec_in_child_processes_gives_the_same_audio(
    triton: TritonServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = set(codec_children())
    monkeypatch.setenv("QWEN_TTS_CODEC_PROCESS", "on")
    with run_triton([MODEL], tmp_path) as server:
        assert len(set(codec_children()) - before) == 2, "a child per codec lane"
        seed = long_seed(server.grpc_url)
        whole, _ = audio(server.grpc_url, seed, streamed=False)
        chunks, responses = audio(server.grpc_url, seed, streamed=True)
    assert set(codec_children()) <= before, "the children went with the server"
    in_process, _ = audio(triton.grpc_url, seed, streamed=False)
    assert whole.size > 0 and responses > 2  # streamed: chunks, then the final response
    np.testing.assert_allclose(whole, in_process, atol=1e-4)
    np.testing.assert_allclose(chunks, in_process, atol=2e-3)  # chunks decode with left context
