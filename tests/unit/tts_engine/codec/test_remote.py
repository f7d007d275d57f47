"""The codec in child processes (`QWEN_TTS_CODEC_PROCESS=on`): the same audio as in process, a
child that dies fails only the call in flight and is started again for the next one, and a child
that cannot start stops the model loading with a clear error."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import numpy as np
import pytest
import torch

from tests.unit.tts_engine.codec.test_stream import Sent, frames
from tts_engine.codec.remote import CodecProcess
from tts_engine.codec.stream import decode_codes
from tts_engine.codec.worker import CodecWorker, DecodeJob

# A child that answers ready, then dies on its first call (the in-flight case, without a race).
DIES_ON_FIRST_CALL = (
    "import socket, sys; from tts_engine.codec.remote import READY, receive, send; "
    "channel = socket.socket(fileno=int(sys.argv[-1])); send(channel, READY); receive(channel); sys.exit(3)"
)


def test_a_child_decodes_what_the_codec_decodes_in_process(tts: Any) -> None:
    codes = [torch.tensor(frames(tts, n, seed)) for seed, n in enumerate((7, 20, 13))]
    child = CodecProcess.for_codec(tts.model.speech_tokenizer)
    try:
        remote = child.decode(codes)
    finally:
        child.close()
    local = decode_codes(tts.model.speech_tokenizer, codes)
    assert len(remote) == len(local) == 3
    for got, want in zip(remote, local, strict=True):
        np.testing.assert_allclose(got, np.asarray(want, dtype=np.float32).reshape(-1), atol=1e-5)


def test_a_child_that_dies_fails_the_call_in_flight_and_the_next_call_gets_a_new_one(tts: Any) -> None:
    codes = [torch.tensor(frames(tts, 5, 1))]
    dying = CodecProcess([sys.executable, "-c", DIES_ON_FIRST_CALL], name="dying")
    with pytest.raises(RuntimeError, match="exited"):
        dying.decode(codes)
    dying.close()
    child = CodecProcess.for_codec(tts.model.speech_tokenizer)
    try:
        first = child.pid()
        assert first is not None
        os.kill(first, signal.SIGKILL)
        try:  # killed between calls: the next call either fails (it was in flight) or starts a new child
            child.decode(codes)
        except RuntimeError as exc:
            assert "exited" in str(exc)
        assert len(child.decode(codes)) == 1 and child.pid() not in (None, first)
    finally:
        child.close()


def test_a_child_that_cannot_start_says_so() -> None:
    module = [sys.executable, "-m", "tts_engine.codec.remote"]
    missing = [*module, "/nonexistent/speech_tokenizer", "cpu", "float32", "off"]
    with pytest.raises(RuntimeError, match="failed to start"):
        CodecProcess(missing, name="broken")


def test_the_worker_sends_the_same_audio_from_child_processes(tts: Any) -> None:
    pieces = [(None, frames(tts, 12, 2), 0), (None, frames(tts, 140, 3), 0), (None, frames(tts, 30, 4), 22)]
    sent: dict[str, Sent] = {}
    for mode in ("thread", "process"):
        worker = CodecWorker(tts, process=mode == "process")
        sent[mode] = Sent()
        try:
            for index, piece in enumerate(pieces):
                worker.submit(DecodeJob(sent[mode].sink(index, stream=index == 2), piece, final=index != 2))
            worker.flush()
            if mode == "process":
                assert len({child.pid() for child in worker.processes}) == 2  # a child per lane
        finally:
            worker.close()
    assert sorted(sent["process"]) == sorted(sent["thread"])
