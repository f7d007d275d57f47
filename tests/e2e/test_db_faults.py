"""PostgreSQL crashes mid-traffic: this module runs its OWN PostgreSQL server (tests/private_postgres.py;
the shared one serves other tests), puts a real API on it in front of the session's Triton, drives
voice creation, job submission, reads and readiness probes from threads, kills the database the way
a crash does and starts it again on the same port, and checks that:

- every answer is a clean status: 200, or the contract's JSON 503 within a bound; never a 500, a
  dropped connection or a hang; readiness (/health) is 503 while the database is down, plain TTS
  keeps working;
- the API recovers without a restart;
- nothing is half-written: every stored voice has its reference audio and its clone prompt; every
  job accepted (200) exists once, a resubmission with its Idempotency-Key never duplicates it, and
  every job completes having run on Triton exactly once (Triton's own inference count).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from devtools.servers import ApiServer, TritonServer, run_api
from tests.e2e.test_cloned_voices import reference_wav
from tests.e2e.test_faults import CLIENT_TIMEOUT, CUSTOM, MODEL, until
from tests.private_postgres import PrivatePostgres, private_postgres

pytestmark = pytest.mark.e2e

SETTINGS = {
    "database_timeout_seconds": "2",
    "job_poll_interval_seconds": "0.1",
    # A lease shorter than the outage: a job whose outcome could not be written is re-claimed as soon
    # as the database is back, so running a job twice would show within this test.
    "job_lease_seconds": "4",
    "job_max_attempts": "10",
    "job_retry_backoff_seconds": "0.3",
    "job_retry_backoff_max_seconds": "1",
}
OUTAGE_SECONDS = 6.0
ANSWER_BOUND_SECONDS = 10.0  # a 503 must come within this (the database timeout is 2 s)


@pytest.fixture(scope="module")
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


@pytest.fixture(scope="module")
def api(triton: TritonServer, postgres: PrivatePostgres, log_dir: Path) -> Iterator[ApiServer]:
    with run_api(triton.grpc_url, log_dir, name="db-faults-api", database_url=postgres.url, **SETTINGS) as server:
        yield server


@dataclass
class Answer:
    what: str
    status: int  # -1: no HTTP answer (timeout, dropped connection)
    seconds: float
    at: float
    body: dict | str
    key: str | None = None


@dataclass
class Traffic:
    """Requests from several threads, one after another in each, until stopped; every answer kept."""

    base: str
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, http: httpx.Client, what: str, method: str, path: str, key: str | None = None, **kw) -> Answer:
        started = time.monotonic()
        try:
            response = http.request(method, path, **kw)
            status = response.status_code
            try:
                body: dict | str = response.json()
            except ValueError:
                body = response.text
        except httpx.HTTPError as exc:
            status, body = -1, repr(exc)
        answer = Answer(what, status, time.monotonic() - started, started, body, key)
        with self._lock:
            self.answers.append(answer)
        return answer

    def loop(self, step: Callable[[httpx.Client, int], None], pause: float = 0.05) -> None:
        def run() -> None:
            with httpx.Client(base_url=self.base, timeout=CLIENT_TIMEOUT) as http:
                i = 0
                while not self.stop.is_set():
                    step(http, i)
                    i += 1
                    time.sleep(pause)

        thread = threading.Thread(target=run, daemon=True)
        self.threads.append(thread)
        thread.start()

    def seen(self, what: str, status: int, after: float = 0.0) -> int:
        with self._lock:
            return sum(1 for a in self.answers if a.what == what and a.status == status and a.at >= after)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(CLIENT_TIMEOUT + 5)
            assert not thread.is_alive(), "a request hung past the client timeout"


def _triton_successes(triton: TritonServer) -> int:
    stats = httpx.get(f"{triton.http_url}/v2/models/{MODEL}/stats", timeout=5).json()
    return int(stats["model_stats"][0]["inference_stats"]["success"]["count"])


def _submit(http: httpx.Client, traffic: Traffic, key: str) -> Answer:
    body = {"job_type": "custom_voice", "request_data": {**CUSTOM, "text": f"Hola {key}"}}
    return traffic.request(http, "job", "POST", "/jobs", key=key, json=body, headers={"Idempotency-Key": key})


def _check_clean(answers: list[Answer]) -> None:
    """200, or the contract's JSON 503 within the bound: nothing else, ever."""
    for answer in answers:
        assert answer.status in (200, 503), (answer.what, answer.status, answer.body)
        if answer.status == 503:
            body = answer.body
            assert isinstance(body, dict) and "database" in str(body.get("error")), (answer.what, body)
            if answer.what == "health":
                assert body["status"] == "unhealthy" and body["database_ready"] is False, body
            else:
                assert body["success"] is False and body["error_type"] == "unavailable", (answer.what, body)
            assert answer.seconds < ANSWER_BOUND_SECONDS, f"{answer.what}: a 503 took {answer.seconds:.1f} s"


def test_a_database_crash_mid_traffic_loses_and_duplicates_nothing(
    api: ApiServer, postgres: PrivatePostgres, triton: TritonServer
):
    base = f"{api.url}/api/v1"
    audio = reference_wav()
    traffic = Traffic(base)
    sync_ok = 0  # synchronous TTS answered 200: Triton ran each once, besides the jobs

    def create_voice(http: httpx.Client, i: int) -> None:
        form = {"name": f"Voz {i}", "ref_text": "Hola, esta es mi voz", "language": "Spanish"}
        files = {"ref_audio": ("voice.wav", audio, "audio/wav")}
        traffic.request(http, "voice", "POST", "/cloned-voices/upload", data=form, files=files)

    def submit_job(http: httpx.Client, i: int) -> None:
        _submit(http, traffic, f"job-{i}")

    def read(http: httpx.Client, i: int) -> None:
        nonlocal sync_ok
        traffic.request(http, "list voices", "GET", "/cloned-voices", params={"limit": 5})
        traffic.request(http, "list jobs", "GET", "/jobs", params={"limit": 5})
        traffic.request(http, "health", "GET", "/health")
        if traffic.request(http, "tts", "POST", "/tts/custom", json=CUSTOM).status == 200:
            sync_ok += 1

    before = _triton_successes(triton)
    try:
        traffic.loop(create_voice)
        traffic.loop(submit_job, pause=0.2)
        traffic.loop(read)
        until(lambda: traffic.seen("voice", 200) >= 2 and traffic.seen("job", 200) >= 3, 90, "traffic flowing")

        killed = time.monotonic()
        postgres.kill()  # mid-traffic: requests and the job worker are using the database
        for what in ("voice", "job", "list voices", "list jobs", "health"):
            until(lambda what=what: traffic.seen(what, 503, killed) >= 1, 20, f"a 503 for {what}")
        down = httpx.get(f"{base}/health", timeout=CLIENT_TIMEOUT)
        assert down.status_code == 503, down.text
        assert down.json()["database_ready"] is False and down.json()["triton_ready"] is True, down.json()
        until(lambda: traffic.seen("tts", 200, killed + 0.5) >= 1, 20, "plain TTS while the database is down")
        time.sleep(max(0.0, killed + OUTAGE_SECONDS - time.monotonic()))

        restarted = time.monotonic()
        postgres.start()  # same port; the API is NOT restarted
        for what in ("voice", "job", "list voices", "list jobs", "health"):
            until(lambda what=what: traffic.seen(what, 200, restarted) >= 1, 60, f"{what} answering 200 again")
    finally:
        traffic.finish()
    _check_clean(traffic.answers)
    assert traffic.seen("tts", 503) == 0, "plain TTS does not need the database"

    with httpx.Client(base_url=base, timeout=CLIENT_TIMEOUT) as http:
        # The client's retry of every submission that got no 200: its Idempotency-Key makes the retry
        # return the job if the lost answer hid a commit, or create it once if it did not.
        answered = {a.key: a for a in traffic.answers if a.what == "job" and a.status == 200}
        for key in sorted({a.key for a in traffic.answers if a.what == "job"} - set(answered)):
            retried = _submit(http, traffic, str(key))
            assert retried.status == 200, retried.body
            answered[key] = retried
        job_ids = {key: str(a.body["job_id"]) for key, a in answered.items()}  # type: ignore[index]
        until(lambda: _all_finished(http, job_ids.values()), 120, "every job finished")
        statuses = {job_id: _status(http, job_id) for job_id in job_ids.values()}
        assert all(s["status"] == "completed" for s in statuses.values()), statuses

    _check_store(postgres.url, traffic, job_ids)
    # Exactly once: the jobs and the synchronous requests are all Triton ran, each once.
    assert _triton_successes(triton) - before == len(job_ids) + sync_ok


def _status(http: httpx.Client, job_id: str) -> dict:
    response = http.get(f"/jobs/{job_id}/status")
    assert response.status_code == 200, response.text
    return dict(response.json()["job"])


def _all_finished(http: httpx.Client, job_ids: Iterable[str]) -> bool:
    return all(_status(http, job_id)["status"] in ("completed", "failed", "cancelled") for job_id in job_ids)


def _check_store(url: str, traffic: Traffic, job_ids: dict[str | None, str]) -> None:
    engine = create_engine(url)
    try:
        with engine.connect() as db:
            voices = {row[0]: (row[1], row[2]) for row in db.execute(text(
                "SELECT v.id, (SELECT count(*) FROM voice_audio a WHERE a.voice_id = v.id),"
                " (SELECT count(*) FROM voice_prompts p WHERE p.voice_id = v.id) FROM voices v"
            ))}  # fmt: skip
            jobs = db.execute(text("SELECT id, idempotency_key, status FROM jobs")).all()
    finally:
        engine.dispose()
    # nothing half-written: every voice has its reference audio and a clone prompt
    for voice_id, (audio_rows, prompt_rows) in voices.items():
        assert audio_rows == 1 and prompt_rows >= 1, (voice_id, audio_rows, prompt_rows)
    created = {a.body["voice"]["id"] for a in traffic.answers if a.what == "voice" and a.status == 200}  # type: ignore[index]
    assert created <= set(voices), created - set(voices)  # every voice answered 200 is stored
    # every job exists once, under its key, with the id the client was given
    assert len(jobs) == len(job_ids), (len(jobs), len(job_ids))
    assert {key: job_id for job_id, key, _ in jobs} == job_ids
