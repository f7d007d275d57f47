"""A database that is down or locked: the API still starts and serves TTS; store routes answer 503,
not 500; readiness (/health) fails while it cannot be reached."""

from __future__ import annotations

import socket
import sqlite3
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from api.services import status
from api.settings import Settings
from tests.unit.api.fakes import FakeTriton


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_down_is_503_with_a_clear_message():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nothing"
    app = create_app(Settings(database_url=url, database_timeout_seconds=1))
    with TestClient(app) as client:
        assert client.get("/api/v1/health/live").status_code == 200
        for response in (
            client.get("/api/v1/cloned-voices"),
            client.get("/api/v1/cloned-voices/stats"),
            client.post("/api/v1/tts/cloned-voice/generate", json={"text": "hola", "voice_id": "x_1"}),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "the database is unavailable; retry shortly"
            assert response.headers["retry-after"] == "5"


class ReadyTriton(FakeTriton):
    """A Triton that is up, with nothing loaded: /health then depends on the database alone."""

    async def is_ready(self) -> bool:
        return True

    async def loaded_models(self) -> list[str]:
        return []

    async def engine_info(self) -> dict:
        return {"models": {}}


def test_readiness_fails_while_the_database_is_down():
    status._info_cache.update(at=0.0, value=None)
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nothing"
    app = create_app(Settings(database_url=url, database_timeout_seconds=1))
    with TestClient(app) as client:
        app.state.triton = ReadyTriton()
        started = time.monotonic()
        response = client.get("/api/v1/health")
        assert time.monotonic() - started < status.DATABASE_PING_SECONDS + 1
        assert response.status_code == 503, response.text
        body = response.json()
        assert body["status"] == "unhealthy" and body["triton_ready"] is True and body["database_ready"] is False
        assert "database" in body["error"] and response.headers["retry-after"] == "5"


def test_readiness_is_healthy_with_triton_and_the_database_up(app_client: TestClient):
    app_client.app.state.triton = ReadyTriton()  # type: ignore[attr-defined]
    response = app_client.get("/api/v1/health")
    assert response.status_code == 200, response.text
    assert response.json()["database_ready"] is True and response.json()["triton_ready"] is True


def test_a_locked_sqlite_file_is_a_clean_503_and_nothing_half_written(tmp_path: Path, fake_triton: FakeTriton):
    """Another process holds SQLite's write lock past the busy timeout: writes (and, as every store
    transaction takes the write lock first, reads) answer 503 within the timeout, never 500 and
    never a hang; once the lock is released the same API serves again, and the refused job does
    not exist."""
    database = tmp_path / "qwen_tts.db"
    app = create_app(Settings(database_url=f"sqlite:///{database}", database_timeout_seconds=0.5))
    job = {"job_type": "custom_voice", "request_data": {"text": "Hola", "speaker": "Ryan"}}
    with TestClient(app) as client:
        app.state.triton = fake_triton
        app.state.job_worker.drain()  # jobs stay pending: only the API's own writes are under test
        holder = sqlite3.connect(database, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            for method, path, body in (("POST", "/jobs", job), ("GET", "/jobs", None), ("GET", "/cloned-voices", None)):
                started = time.monotonic()
                response = client.request(method, f"/api/v1{path}", json=body)
                assert time.monotonic() - started < 5, path
                assert response.status_code == 503, (path, response.text)
                assert response.json()["error"] == "the database is unavailable; retry shortly"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        accepted = client.post("/api/v1/jobs", json=job)
        assert accepted.status_code == 200, accepted.text
        listed = client.get("/api/v1/jobs").json()
        assert [j["id"] for j in listed["jobs"]] == [accepted.json()["job_id"]]
