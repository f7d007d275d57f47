"""Triton crashes mid-traffic: this module runs its OWN Triton (custom_voice_1_7b only) on fixed
ports, SIGKILLs it and restarts it on the same ports, and checks that the API never answers 500 or
hangs, answers 503 (the contract's JSON) at once while Triton is down, recovers without a restart,
and that jobs wait, retry with backoff and complete exactly once, or fail as "unavailable"."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.databases import fresh_postgres, postgres_available
from devtools.servers import TINY_DIR, ApiServer, TritonServer, free_port, kill, run_api, run_triton
from tests.e2e.jobs.jobs_client import status, submit

pytestmark = pytest.mark.e2e

MODEL = "custom_voice_1_7b"
CUSTOM = {"text": "Hola", "speaker": "Ryan", "language": "Spanish", "max_new_tokens": 8}
# Short backoff: a job is retried 0.3 s, 0.6 s, 1.2 s, then every 1.5 s while Triton is down.
FAULT_SETTINGS = {
    "triton_connect_timeout_seconds": "2",
    "job_retry_backoff_seconds": "0.3",
    "job_retry_backoff_max_seconds": "1.5",
    "job_max_attempts": "50",
    "job_poll_interval_seconds": "0.1",
}
CLIENT_TIMEOUT = 30.0


class TritonControl:
    """The module's Triton: started, SIGKILLed and restarted on the same three ports."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.ports = (free_port(), free_port(), free_port())
        self.server: TritonServer | None = None
        self._stack: ExitStack | None = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.ports[1]}"

    def start(self) -> TritonServer:
        assert self.server is None
        self._stack = ExitStack()
        self.server = self._stack.enter_context(run_triton([MODEL], self.log_dir, ports=self.ports))
        return self.server

    def kill(self) -> None:
        assert self.server is not None and self._stack is not None
        kill(self.server.process)
        self._stack.close()
        self.server, self._stack = None, None

    def close(self) -> None:
        if self._stack is not None:
            self._stack.close()
        self.server, self._stack = None, None

    def successes(self) -> int:
        """Inference requests the running Triton completed since it started."""
        assert self.server is not None
        stats = httpx.get(f"{self.server.http_url}/v2/models/{MODEL}/stats", timeout=5).json()
        return int(stats["model_stats"][0]["inference_stats"]["success"]["count"])


@pytest.fixture(scope="module")
def triton(log_dir: Path) -> Iterator[TritonControl]:
    if not (TINY_DIR / "Qwen3-TTS-12Hz-1.7B-CustomVoice").is_dir():
        pytest.fail(f"tiny checkpoints missing in {TINY_DIR}: run scripts/install.sh")
    control = TritonControl(log_dir)
    control.start()
    try:
        yield control
    finally:
        control.close()


@pytest.fixture(scope="module")
def apis(triton: TritonControl, log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Base URLs of the APIs in front of the module's Triton: SQLite, and PostgreSQL when reachable."""
    with ExitStack() as stack:
        sqlite = f"sqlite:///{tmp_path_factory.mktemp('faults-db') / 'qwen_tts.db'}"
        urls = [sqlite]
        if postgres_available():
            urls.append(stack.enter_context(fresh_postgres("qwen_tts_faults")))
        bases = []
        for url in urls:
            name = "faults-api-" + url.split(":", 1)[0].split("+")[0]
            server: ApiServer = stack.enter_context(
                run_api(triton.grpc_url, log_dir, name=name, database_url=url, **FAULT_SETTINGS)
            )
            bases.append(f"{server.url}/api/v1")
        yield bases


def until(predicate: Any, timeout: float, what: str) -> None:
    """Poll `predicate` until it holds; TimeoutError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not seen within {timeout} s")


def _check_503(response: httpx.Response) -> None:
    body = response.json()
    assert body["success"] is False and body["error_type"] == "unavailable", body
    assert "triton" in body["error"].lower() or "inference server" in body["error"].lower(), body


class Traffic:
    """Synchronous /tts/custom requests, one after another, in a thread: (status, seconds, response)."""

    def __init__(self, base: str):
        self.base = base
        self.results: list[tuple[int, float, httpx.Response]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(base_url=self.base, timeout=CLIENT_TIMEOUT) as http:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = http.post("/tts/custom", json=CUSTOM)
                except httpx.HTTPError as exc:  # a hang (ReadTimeout) or a dropped connection: recorded, fails
                    response = httpx.Response(-1, text=repr(exc))
                self.results.append((response.status_code, time.monotonic() - started, response))
                if response.status_code != 200:
                    time.sleep(0.1)

    def statuses(self) -> list[int]:
        return [code for code, _, _ in self.results]

    def __enter__(self) -> Traffic:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(CLIENT_TIMEOUT + 5)
        assert not self._thread.is_alive(), "a request hung past the client timeout"


def test_sync_traffic_survives_a_triton_crash_and_recovers_without_an_api_restart(
    triton: TritonControl, apis: list[str]
):
    base = apis[0]
    health = f"{base}/health"
    assert httpx.get(health, timeout=10).status_code == 200
    with Traffic(base) as traffic:
        until(lambda: traffic.statuses().count(200) >= 2, 60, "two successful requests")
        triton.kill()  # mid-traffic: a request may be in flight
        until(lambda: 503 in traffic.statuses(), 20, "a 503 while Triton is down")
        down = httpx.get(health, timeout=10)
        assert down.status_code == 503 and down.json()["status"] == "unhealthy", down.text
        began = time.monotonic()
        answer = httpx.post(f"{base}/tts/custom", json=CUSTOM, timeout=CLIENT_TIMEOUT)
        assert answer.status_code == 503 and time.monotonic() - began < 5, (answer.status_code, answer.text)
        _check_503(answer)
        seen = len(traffic.results)
        triton.start()  # same ports; the API is NOT restarted
        until(lambda: traffic.statuses()[seen:].count(200) >= 2, 60, "successful requests after the restart")
    statuses = traffic.statuses()
    assert set(statuses) <= {200, 503}, statuses
    for code, seconds, response in traffic.results:
        if code == 503:
            _check_503(response)
            assert seconds < 10, f"a 503 took {seconds:.1f} s"
    assert httpx.get(health, timeout=10).status_code == 200


def _submit(http: httpx.Client, text: str) -> str:
    return submit(http, "custom_voice", **{**CUSTOM, "text": text})


def test_jobs_wait_for_triton_with_backoff_and_complete_exactly_once(triton: TritonControl, apis: list[str]):
    triton.kill()
    clients = [httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT) for base in apis]
    try:
        jobs = {http: [_submit(http, f"Hola {i}") for i in range(3)] for http in clients}
        # the first job of each API is retried (attempts grow, it stays queued) while Triton is down
        for http, ids in jobs.items():
            until(lambda http=http, ids=ids: status(http, ids[0])["attempts"] >= 3, 20, "retries with backoff")
            assert all(status(http, job_id)["status"] in ("pending", "processing") for job_id in ids)
        triton.start()
        for http, ids in jobs.items():
            until(lambda http=http, ids=ids: all(status(http, i)["status"] == "completed" for i in ids), 60, "done")
            for job_id in ids:
                job = status(http, job_id)
                assert job["attempts"] >= 1 and job["error"] is None, job
                result = http.get(f"/jobs/{job_id}/result").json()
                assert result["success"] is True, result
            listed = http.get("/jobs", params={"limit": 100}).json()
            assert sorted(j["id"] for j in listed["jobs"]) == sorted(ids)  # none lost, none duplicated
        # exactly once: the restarted Triton ran one inference per job, no more
        assert triton.successes() == sum(len(ids) for ids in jobs.values())
    finally:
        for http in clients:
            http.close()


def test_jobs_fail_as_unavailable_when_triton_never_returns(triton: TritonControl, log_dir: Path):
    triton.kill()
    settings = {**FAULT_SETTINGS, "job_max_attempts": "3"}
    with (
        run_api(triton.grpc_url, log_dir, name="faults-api-give-up", **settings) as server,
        httpx.Client(base_url=f"{server.url}/api/v1", timeout=CLIENT_TIMEOUT) as http,
    ):
        job_id = _submit(http, "Hola")
        until(lambda: status(http, job_id)["status"] == "failed", 30, "the job failing")
        job = status(http, job_id)
        assert job["attempts"] == 3 and job["error_type"] == "unavailable", job
        assert "unavailable on all 3 attempts" in job["error"] and "Triton" in job["error"], job
