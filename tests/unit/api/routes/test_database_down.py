"""A database that is down: the API still starts and serves TTS; voice routes answer 503, not 500."""

from __future__ import annotations

import socket

from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings


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
