"""SIGTERM to the API while a synchronous request and a job run: it stops accepting at once, the
request completes (200), the job that could not finish within the jobs' timeout goes back to the
queue (pending, attempt not counted), the process exits, and another API completes the job once."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.servers import TritonServer, audio_host, run_api
from tests.e2e.jobs.conftest import reference_wav
from tests.e2e.test_faults import until

pytestmark = pytest.mark.e2e

DRAIN_SECONDS = 30  # uvicorn --timeout-graceful-shutdown: in-flight requests finish within it
SETTINGS = {"job_poll_interval_seconds": "0.1", "job_shutdown_timeout_seconds": "1"}


@pytest.fixture(scope="module")
def slow_audio() -> Iterator[str]:
    """/N.wav answers after N seconds: work that is still running when the signal comes."""
    wav = reference_wav()
    paths = [f"/{seconds}.wav" for seconds in (3, 8)]
    with audio_host(dict.fromkeys(paths, wav), delays={path: float(path[1:-4]) for path in paths}) as url:
        yield url


def clone(audio: str, seconds: float) -> dict[str, Any]:
    return {
        "text": "Hola",
        "ref_text": "Hola, esta es mi voz",
        "ref_audio_url": f"{audio}/{seconds}.wav",
        "language": "Spanish",
        "max_new_tokens": 8,
    }


def test_sigterm_finishes_requests_hands_jobs_back_and_exits(
    triton: TritonServer, log_dir: Path, tmp_path: Path, slow_audio: str
) -> None:
    database = f"sqlite:///{tmp_path / 'shutdown.db'}"
    drain = ("--timeout-graceful-shutdown", str(DRAIN_SECONDS))
    first = run_api(triton.grpc_url, log_dir, name="api-sigterm", uvicorn_args=drain, database_url=database, **SETTINGS)
    with first as server:
        base = f"{server.url}/api/v1"
        job = {"job_type": "voice_clone_url", "request_data": clone(slow_audio, 8)}
        job_id = httpx.post(f"{base}/jobs", json=job, timeout=30).json()["job_id"]
        until(lambda: _job(base, job_id)["status"] == "processing", 30, "the job running")
        answer: list[httpx.Response] = []
        request = threading.Thread(
            target=lambda: answer.append(httpx.post(f"{base}/tts/clone/url", json=clone(slow_audio, 3), timeout=60))
        )
        request.start()
        time.sleep(1.0)  # the request is in flight (fetching its slow reference)
        signalled = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        until(lambda: _refused(server.url), 5, "new connections refused")
        request.join(60)
        assert answer and answer[0].status_code == 200, answer and answer[0].text
        assert answer[0].json()["success"] is True
        server.process.wait(DRAIN_SECONDS + 10)
        # uvicorn re-raises the signal once shut down cleanly: the parent sees "stopped by SIGTERM"
        assert server.process.returncode in (0, -signal.SIGTERM), server.log_path.read_text()[-3000:]
        assert "Application shutdown complete" in server.log_path.read_text()
        assert time.monotonic() - signalled < 10  # the request's 2 s left, the jobs' 1 s, start-up of nothing
    with run_api(triton.grpc_url, log_dir, name="api-after-sigterm", database_url=database, **SETTINGS) as server:
        base = f"{server.url}/api/v1"
        until(lambda: _job(base, job_id)["status"] == "completed", 60, "the job completed by another API")
        assert _job(base, job_id)["attempts"] == 1  # the released attempt was not counted
    log = (log_dir / "api-sigterm.log").read_text()
    assert "released to the queue" in log, log[-3000:]


def _job(base: str, job_id: str) -> dict[str, Any]:
    return dict(httpx.get(f"{base}/jobs/{job_id}/status", timeout=10).json()["job"])


def _refused(url: str) -> bool:
    try:
        httpx.get(f"{url}/api/v1/health/live", timeout=2)
    except httpx.ConnectError:
        return True
    return False
