"""Every request body is capped before and while it is read: a declared Content-Length over the
limit is a 413 (the contract's JSON) without one byte of the body read; a chunked body is a 413 as
soon as it passes the limit, and the rest is never pulled from the client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.body_limit import FIELDS_ALLOWANCE, body_limit
from api.main import create_app
from api.settings import Settings

LIMIT = 256 * 1024
GIGABYTE = 1024**3
CHUNK = 16 * 1024


MULTIPART = b"multipart/form-data; boundary=xyz"
FILE_PART = b'--xyz\r\nContent-Disposition: form-data; name="ref_audio"; filename="a.wav"\r\n\r\n'


def call(app: Any, path: str, *, headers: list[tuple[bytes, bytes]], chunks: int) -> tuple[dict, int]:
    """POST `chunks` chunks of CHUNK bytes to `app` (ASGI, no server; a multipart body opens a file
    part first): the response, and how many body bytes the application pulled."""
    pulled = 0
    sent: list[dict] = []
    prefix = FILE_PART if (b"content-type", MULTIPART) in headers else b""

    async def receive() -> dict:
        nonlocal pulled
        if pulled >= chunks * CHUNK:
            return {"type": "http.request", "body": b"", "more_body": False}
        body = (prefix if pulled == 0 else b"") + b"x" * CHUNK
        pulled += len(body)
        return {"type": "http.request", "body": body, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": headers, "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {"status": start["status"], "headers": dict(start["headers"]), "body": json.loads(body)}, pulled


@pytest.fixture
def app(tmp_path: Path) -> Any:
    return create_app(Settings(data_dir=tmp_path, max_request_bytes=LIMIT))


def check_413(response: dict) -> None:
    assert response["status"] == 413, response
    body = response["body"]
    assert body["success"] is False and body["error_type"] == "payload_too_large", body
    assert f"larger than the {LIMIT} bytes allowed" in body["error"], body


@pytest.mark.parametrize("path", ["/api/v1/tts/custom", "/api/v1/cloned-voices", "/api/v1/jobs"])
def test_a_declared_gigabyte_is_refused_before_any_byte_is_read(app: Any, path: str):
    headers = [(b"content-type", b"application/json"), (b"content-length", str(GIGABYTE).encode())]
    response, pulled = call(app, path, headers=headers, chunks=GIGABYTE // CHUNK)
    check_413(response)
    assert pulled == 0
    assert response["headers"][b"connection"] == b"close"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/api/v1/tts/custom", b"application/json"),
        ("/api/v1/jobs", b"application/json"),
        ("/api/v1/tts/clone/upload", MULTIPART),
        ("/api/v1/cloned-voices/upload", MULTIPART),
    ],
)
def test_a_chunked_gigabyte_is_refused_as_soon_as_it_passes_the_limit(app: Any, path: str, content_type: bytes):
    headers = [(b"content-type", content_type), (b"transfer-encoding", b"chunked")]
    response, pulled = call(app, path, headers=headers, chunks=GIGABYTE // CHUNK)
    check_413(response)
    assert pulled <= LIMIT + CHUNK + len(FILE_PART)  # the rest of the gigabyte is never pulled


def test_bodies_within_the_limit_pass(tmp_path: Path):
    settings = Settings(data_dir=tmp_path, max_request_bytes=LIMIT)
    with TestClient(create_app(settings)) as client:
        # a body just under the limit reaches validation (422 for the unknown speaker), not 413
        text = "x" * (LIMIT - 200)
        response = client.post("/api/v1/tts/custom", json={"text": text, "speaker": "Nobody"})
        assert response.status_code == 422, response.text
        over = client.post("/api/v1/tts/custom", json={"text": "x" * LIMIT, "speaker": "Nobody"})
        assert over.status_code == 413 and over.json()["error_type"] == "payload_too_large"


def test_the_default_limit_fits_the_largest_reference_in_base64():
    settings = Settings(max_upload_bytes=10 * 1024 * 1024)
    assert body_limit(settings) == 13_981_016 + FIELDS_ALLOWANCE  # 4 * ceil(10 MiB / 3)
    assert body_limit(Settings(max_request_bytes=5000)) == 5000
