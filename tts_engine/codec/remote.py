"""The codec in a process of its own (`QWEN_TTS_CODEC_PROCESS=on`): no interpreter lock shared.

In one process the codec threads call the decoder's ops one by one from Python, and between ops
they take turns with the generation loop at the GIL, each slowing the other (on the 2-core CPU a
short request's decode took 15-18 ms beside 8 long rows against 11.5 ms alone). Here each codec
lane talks to a child process that loads only the speech tokenizer, the package's own
`Qwen3TTSTokenizer.from_pretrained` on the folder, device and dtype the model loaded it with, and
decodes the codes it is sent. Messages are length-prefixed pickles on a socket pair (not
`multiprocessing`: the Triton stub's embedded interpreter cannot start children with it): codes
go as int64 arrays, each row's audio comes back as a float32 array, and what a span owes is cut
in the parent. A child that dies fails the call in flight (its rows get an error) and is started
again for the next one.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import struct
import subprocess
import sys
import threading
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)

READY = "ready"


def send(channel: socket.socket, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    # MSG_NOSIGNAL: a child that died makes this an OSError, never a SIGPIPE (an embedded
    # interpreter, as in the Triton stub, may not ignore that signal: it would end the model)
    channel.sendall(struct.pack("<Q", len(data)) + data, socket.MSG_NOSIGNAL)


def receive(channel: socket.socket) -> Any:
    (size,) = struct.unpack("<Q", _exactly(channel, 8))
    return pickle.loads(_exactly(channel, size))  # our own child, on our own socket


def _exactly(channel: socket.socket, size: int) -> bytes:
    data = bytearray(size)
    view, got = memoryview(data), 0
    while got < size:
        count = channel.recv_into(view[got:])
        if not count:
            raise EOFError("the codec process closed its end")
        got += count
    return bytes(data)


def command(codec: Any, graphs: str) -> list[str]:
    """The child's command line for the model's speech tokenizer `codec` (its pipes come last)."""
    dtype = str(next(codec.model.parameters()).dtype).removeprefix("torch.")
    path, device = str(codec.model.config._name_or_path), str(codec.device)
    return [_python(), "-m", "tts_engine.codec.remote", path, device, dtype, graphs]


def _python() -> str:
    """This interpreter's executable (inside the Triton stub `sys.executable` is the stub itself)."""
    if os.path.basename(sys.executable).startswith("python"):
        return sys.executable
    return os.path.join(sys.prefix, "bin", "python3")


class CodecProcess:
    """One child decoding for one codec lane: `decode(codes)` is one codec call, as in process."""

    def __init__(self, argv: list[str], *, name: str = "codec") -> None:
        """`argv`: the child's command (`command`); started now, so a failure stops the model loading."""
        self._argv, self._name = argv, name
        self._threads = torch.get_num_threads()
        self._lock = threading.Lock()
        self._child: _Child | None = _Child(self._argv, self._threads)

    @classmethod
    def for_codec(cls, codec: Any, *, graphs: str = "off", name: str = "codec") -> CodecProcess:
        """`codec`: the model's speech tokenizer (the child loads its folder, on its device and
        dtype); `graphs`: `QWEN_TTS_CODEC_GRAPHS` for the child's decoder."""
        return cls(command(codec, graphs), name=name)

    def decode(self, codes: list[torch.Tensor]) -> list[np.ndarray]:
        arrays = [c.to(torch.int64).numpy() for c in codes]
        with self._lock:
            if self._child is None or not self._child.alive():
                log.warning("%s: the codec process is gone, starting another", self._name)
                self._child = _Child(self._argv, self._threads)
            try:
                answer = self._child.call(arrays)
            except (EOFError, OSError) as exc:
                self._child.stop()
                self._child = None
                raise RuntimeError("the codec process exited") from exc
        if isinstance(answer, Exception):
            raise answer
        return list(answer)

    def pid(self) -> int | None:
        return self._child.process.pid if self._child is not None else None

    def close(self) -> None:
        with self._lock:
            if self._child is not None:
                self._child.stop()
                self._child = None


class _Child:
    def __init__(self, argv: list[str], threads: int) -> None:
        self._channel, theirs = socket.socketpair()
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        with theirs:
            self.process = subprocess.Popen(  # our own module, argv built here
                [*argv, str(theirs.fileno())], pass_fds=(theirs.fileno(),), env=env, stdout=subprocess.DEVNULL
            )
        try:
            ready = receive(self._channel)
        except (EOFError, OSError):
            self.stop()
            raise RuntimeError("the codec process failed to start (its log says why)") from None
        if ready != READY:
            self.stop()
            raise RuntimeError(f"the codec process failed to start: {ready}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def call(self, message: Any) -> Any:
        send(self._channel, message)
        return receive(self._channel)

    def stop(self, timeout: float = 5.0) -> None:
        try:
            if self.alive():
                send(self._channel, None)
                self.process.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()
        finally:
            self._channel.close()


def serve(path: str, device: str, dtype: str, graphs: str, channel: socket.socket) -> None:
    """The child: load the speech tokenizer, then decode every message until told to stop."""
    from qwen_tts.inference.qwen3_tts_tokenizer import Qwen3TTSTokenizer

    from tts_engine.codec.graphed import CodecGraphs
    from tts_engine.codec.masks import install
    from tts_engine.codec.stream import codec_batch_rows, decode_codes
    from tts_engine.step.graphs import backend_for

    try:
        codec = Qwen3TTSTokenizer.from_pretrained(path, device_map=device, dtype=getattr(torch, dtype))
        install(codec)
        backend = backend_for(graphs, torch.device(device))
        rows = codec_batch_rows(device)
        graphed = CodecGraphs(codec, backend, max_rows=rows) if backend is not None else None
    except Exception as exc:
        send(channel, f"{type(exc).__name__}: {exc}")
        raise
    send(channel, READY)
    with torch.no_grad():
        while True:
            try:
                message = receive(channel)
            except EOFError:  # the model's process is gone
                return
            if message is None:
                return
            try:
                wavs = decode_codes(codec, [torch.from_numpy(c).to(device) for c in message], graphed)
                send(channel, [np.asarray(w, dtype=np.float32).reshape(-1) for w in wavs])
            except Exception as exc:  # one bad call fails its rows, not the child
                log.exception("decoding failed")
                send(channel, RuntimeError(f"audio decoding failed: {type(exc).__name__}"))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    _, path_, device_, dtype_, graphs_, fd = sys.argv
    serve(path_, device_, dtype_, graphs_, socket.socket(fileno=int(fd)))
