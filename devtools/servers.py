"""Start the real Triton server (tiny checkpoints) and the real API as subprocesses, for tests and benchmarks."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
TINY_DIR = Path(os.environ.get("QWEN_TTS_TINY_DIR", ROOT / ".cache" / "tiny-checkpoints"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A server subprocess (its own process group) and its log file."""

    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class TritonServer(Server):
    http_port: int
    grpc_port: int
    metrics_port: int

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"


def _wait(url: str, process: subprocess.Popen[bytes], timeout: float, log_path: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; log:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not ready after {timeout}s; log:\n{log_path.read_text()[-4000:]}")


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the server and everything it started (a crash: no graceful shutdown)."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _stop(process: subprocess.Popen[bytes], timeout: float = 30) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def run_triton(
    models: list[str],
    log_dir: Path,
    timeout: float = 300,
    ports: tuple[int, int, int] | None = None,
    weights_dir: Path = TINY_DIR,
) -> Iterator[TritonServer]:
    """Triton on free ports, or on `ports` (http, grpc, metrics): a restart on the same ports is the
    same server to the API (tests/e2e/test_faults.py kills and restarts it). Checkpoints are read
    from `weights_dir` (default: the tiny ones, or QWEN_TTS_TINY_DIR)."""
    ports = ports or (free_port(), free_port(), free_port())
    env = {
        **os.environ,
        "QWEN_TTS_MODELS": ",".join(models),
        "QWEN_TTS_WEIGHTS_DIR": str(weights_dir),
        "TRITON_HTTP_PORT": str(ports[0]),
        "TRITON_GRPC_PORT": str(ports[1]),
        "TRITON_METRICS_PORT": str(ports[2]),
        "QWEN_TTS_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }
    log_path = log_dir / "triton.log"
    with log_path.open("ab") as log:  # a restart appends to the same log
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run_triton.sh")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = TritonServer(process, log_path, *ports)
    try:
        _wait(f"{server.http_url}/v2/health/ready", process, timeout, log_path)
        yield server
    finally:
        _stop(process)


@dataclass
class ApiServer(Server):
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


UVICORN = (sys.executable, "-m", "uvicorn", "api.main:app")


@contextmanager
def run_api(
    triton_url: str, log_dir: Path, name: str = "api", uvicorn_args: tuple[str, ...] = (), **settings: str
) -> Iterator[ApiServer]:
    port = free_port()
    # Each API gets its own throw-away SQLite store unless told otherwise: never ./var.
    settings.setdefault("database_url", f"sqlite:///{log_dir / f'{name}.db'}")
    # The tests' reference audio comes from a local http.server, which the SSRF guard refuses unless
    # trusted (pass fetch_allowed_hosts="[]" to test the guard itself).
    settings.setdefault("fetch_allowed_hosts", '["127.0.0.1"]')
    # The healer's probes count in Triton's statistics, which tests compare with jobs and calls
    # exactly: off unless a test (tests/e2e/test_model_healing.py) or the soak turns it on.
    settings.setdefault("model_healing_enabled", "false")
    env = {**os.environ, "QWEN_TTS_TRITON_URL": triton_url, **{f"QWEN_TTS_{k.upper()}": v for k, v in settings.items()}}
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*UVICORN, "--host", "127.0.0.1", "--port", str(port), *uvicorn_args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = ApiServer(process, log_path, port)
    try:
        _wait(f"{server.url}/api/v1/health/live", process, 60, log_path)
        yield server
    finally:
        _stop(process)


@dataclass
class StoreApi:
    """An API process and the database behind it (tests may reach into the database directly)."""

    server: ApiServer
    database_url: str
    kind: str

    @property
    def base(self) -> str:
        return f"{self.server.url}/api/v1"


@contextmanager
def audio_host(files: dict[str, bytes], delays: dict[str, float] | None = None) -> Iterator[str]:
    """A local HTTP server standing in for the caller's audio host; `files` may change while it runs.
    `delays`: seconds a path waits before it answers (work still running when a test acts)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            time.sleep((delays or {}).get(self.path, 0.0))
            body = files.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
