"""Fixtures of the job e2e tests: APIs and dedicated worker processes on one database, in front of
the session's real Triton server; a local audio host (optionally slow) for voice_clone_url."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from devtools.databases import fresh_postgres
from devtools.servers import ROOT, ApiServer, run_api
from devtools.servers import audio_host as serve_audio
from tests.databases import require_postgres

# Fast polling keeps the tests short; everything else is the production default unless a test says.
JOB_SETTINGS = {"job_poll_interval_seconds": "0.1", "job_heartbeat_seconds": "1"}


def reference_wav(seconds: float = 2.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def audio_host() -> Iterator[str]:
    """Serves /voice.wav at once and /slow.wav after 4 s (a job that stays running)."""
    wav = reference_wav()
    with serve_audio({"/voice.wav": wav, "/slow.wav": wav}, delays={"/slow.wav": 4.0}) as url:
        yield url


@contextmanager
def database_url(kind: str, tmp_path: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.db'}"
        return
    require_postgres()
    with fresh_postgres("qwen_tts_jobs_e2e") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    with database_url("postgresql", tmp_path) as url:
        yield url


@contextmanager
def job_api(triton_url: str, log_dir: Path, url: str, name: str, **settings: str) -> Iterator[ApiServer]:
    with run_api(triton_url, log_dir, name=name, database_url=url, **{**JOB_SETTINGS, **settings}) as server:
        yield server


@contextmanager
def worker_process(triton_url: str, log_dir: Path, url: str, name: str, **settings: str
                   ) -> Iterator[subprocess.Popen[bytes]]:  # fmt: skip
    """`python -m api.jobs.worker`: a dedicated worker replica."""
    env = {**os.environ, "QWEN_TTS_TRITON_URL": triton_url, "QWEN_TTS_DATABASE_URL": url}
    # the local audio host is on loopback: trusted here, as run_api does for the API processes
    # ... and without the healer, whose probes would count in Triton's statistics (as run_api does)
    settings = {"fetch_allowed_hosts": '["127.0.0.1"]', "model_healing_enabled": "false", **settings}
    env |= {f"QWEN_TTS_{key.upper()}": value for key, value in {**JOB_SETTINGS, **settings}.items()}
    with (log_dir / f"{name}.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.jobs.worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
