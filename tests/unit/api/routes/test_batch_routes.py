"""The /batches routes in-process, on a temporary SQLite file, with the fake Triton: the three body
forms, every bad line in one 422 with nothing enqueued, the item limit, idempotency, the run through
the worker's batch lane, items, the SSE stream, the results zip, cancel, delete and ownership."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx_sse import connect_sse

from tests.unit.api.conftest import KeyedApp, make_keyed_app
from tests.unit.api.fakes import FakeTriton
from tests.unit.api.routes.test_jobs_routes import make_client

V1 = "/api/v1"


def item(text: str, custom_id: str | None = None, **extra: Any) -> dict[str, Any]:
    data = {"text": text, "speaker": "Ryan", "max_new_tokens": 8, **extra}
    body: dict[str, Any] = {"job_type": "custom_voice", "request_data": data}
    return body if custom_id is None else {**body, "custom_id": custom_id}


@pytest.fixture
def client(tmp_path: Path, fake_triton: FakeTriton) -> Iterator[TestClient]:
    yield from make_client(tmp_path, fake_triton, batch_max_items=20)


@pytest.fixture
def idle(tmp_path: Path, fake_triton: FakeTriton) -> Iterator[TestClient]:
    yield from make_client(tmp_path, fake_triton, job_workers_enabled=False, batch_max_items=20)


def wait_finished(client: TestClient, batch_id: str, timeout: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.get(f"{V1}/batches/{batch_id}").json()
        if batch["status"] in ("completed", "cancelled"):
            return dict(batch)
        time.sleep(0.05)
    raise TimeoutError(batch)


def test_a_jsonl_batch_runs_and_its_results_are_a_zip(client: TestClient, fake_triton: FakeTriton) -> None:
    lines = [item("uno", "first"), item("dos", output_format="mp3"), item("tres", "third")]
    body = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    created = client.post(f"{V1}/batches", content=body, headers={"Content-Type": "application/jsonl"})
    assert created.status_code == 200, created.text
    batch_id = created.json()["batch_id"]
    assert created.json()["batch"]["total"] == 3 and created.json()["results_url"].endswith("/results")
    batch = wait_finished(client, batch_id)
    assert batch["status"] == "completed" and batch["counts"]["completed"] == 3 and batch["percent"] == 100
    assert batch["audio_seconds"] == pytest.approx(0.3)
    assert sorted(call.text for _, call in fake_triton.synth_calls) == ["dos", "tres", "uno"]
    items = client.get(f"{V1}/batches/{batch_id}/items").json()
    assert [i["file"] for i in items["items"]] == ["first.wav", "item-00002.mp3", "third.wav"]
    assert items["next_after"] is None
    # an item is a job: its status and result are there too, and it is not in the /jobs list
    job = client.get(f"{V1}/jobs/{items['items'][0]['job_id']}/status").json()["job"]
    assert job["batch_id"] == batch_id and client.get(f"{V1}/jobs").json()["total"] == 0
    response = client.get(f"{V1}/batches/{batch_id}/results")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert sorted(archive.namelist()) == ["first.wav", "item-00002.mp3", "manifest.jsonl", "third.wav"]
    manifest = [json.loads(line) for line in archive.read("manifest.jsonl").decode().splitlines()]
    assert [(m["index"], m["custom_id"], m["status"]) for m in manifest] == [
        (0, "first", "completed"), (1, None, "completed"), (2, "third", "completed")
    ]  # fmt: skip
    assert archive.read("first.wav")[:4] == b"RIFF"


def test_json_array_object_and_multipart_forms(idle: TestClient) -> None:
    forms = [
        {"json": [item("a")]},
        {"json": {"items": [item("a"), item("b")]}},
        {"files": {"file": ("lines.jsonl", json.dumps(item("a")).encode(), "application/jsonl")}},
    ]
    totals = [idle.post(f"{V1}/batches", **form).json()["batch"]["total"] for form in forms]  # type: ignore[arg-type]
    assert totals == [1, 2, 1]
    listed = idle.get(f"{V1}/batches").json()
    assert listed["total"] == 3 and [b["status"] for b in listed["batches"]] == ["pending"] * 3


def test_every_bad_line_is_listed_and_nothing_is_enqueued(idle: TestClient) -> None:
    lines = [
        json.dumps(item("ok", "a")),
        "{not json",
        json.dumps(item("x", speaker="Nobody")),
        json.dumps({"job_type": "bogus", "request_data": {}}),
        json.dumps(item("dup", "a")),
        json.dumps(item("y", "bad/name")),
        json.dumps(item("Hola " * 50_000)),
    ]
    response = idle.post(f"{V1}/batches", content="\n".join(lines), headers={"Content-Type": "application/jsonl"})
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "items" and body["error"].startswith("6 of 7 items are invalid")
    errors = {e["line"]: e for e in body["errors"]}
    assert sorted(errors) == [2, 3, 4, 5, 6, 7]
    assert "not valid JSON" in errors[2]["error"] and errors[3]["field"] == "request_data.speaker"
    assert errors[4]["field"] == "job_type" and errors[5]["field"] == "custom_id" and errors[6]["field"] == "custom_id"
    assert "the limit is 200000 characters" in errors[7]["error"]
    assert idle.get(f"{V1}/batches").json()["total"] == 0


def test_limits_and_idempotency(idle: TestClient) -> None:
    too_many = idle.post(f"{V1}/batches", json=[item(str(i)) for i in range(21)])
    assert too_many.status_code == 413 and "the limit is 20 items" in too_many.json()["error"]
    assert idle.post(f"{V1}/batches", json=[]).status_code == 422
    assert idle.post(f"{V1}/batches", content=b"[1,", headers={"Content-Type": "application/json"}).status_code == 400
    headers = {"Idempotency-Key": "k1"}
    first = idle.post(f"{V1}/batches", json=[item("a"), item("b")], headers=headers)
    again = idle.post(f"{V1}/batches", json=[item("a"), item("b")], headers=headers)
    assert again.json()["batch_id"] == first.json()["batch_id"] and again.headers["Idempotent-Replayed"] == "true"
    other = idle.post(f"{V1}/batches", json=[item("c")], headers=headers)
    assert other.status_code == 409
    assert idle.get(f"{V1}/batches").json()["total"] == 1


def test_cancel_delete_and_results_before_the_end(idle: TestClient) -> None:
    batch_id = idle.post(f"{V1}/batches", json=[item("a"), item("b")]).json()["batch_id"]
    assert idle.get(f"{V1}/batches/{batch_id}/results").status_code == 409
    assert idle.post(f"{V1}/batches/{batch_id}/cancel").status_code == 200
    assert idle.post(f"{V1}/batches/{batch_id}/cancel").status_code == 409
    batch = idle.get(f"{V1}/batches/{batch_id}").json()
    assert batch["status"] == "cancelled" and batch["counts"]["cancelled"] == 2
    archive = zipfile.ZipFile(io.BytesIO(idle.get(f"{V1}/batches/{batch_id}/results").content))
    assert archive.namelist() == ["manifest.jsonl"]
    with connect_sse(idle, "GET", f"{V1}/batches/{batch_id}/stream") as source:
        events = [(event.event, event.json()) for event in source.iter_sse()]
    assert [name for name, _ in events] == ["cancelled"] and events[0][1]["counts"]["cancelled"] == 2
    assert idle.delete(f"{V1}/batches/{batch_id}").status_code == 200
    assert idle.get(f"{V1}/batches/{batch_id}").status_code == 404


def test_the_stream_reports_progress_then_completed(client: TestClient) -> None:
    batch_id = client.post(f"{V1}/batches", json=[item(str(i)) for i in range(5)]).json()["batch_id"]
    with connect_sse(client, "GET", f"{V1}/batches/{batch_id}/stream") as source:
        events = [(event.event, event.json()) for event in source.iter_sse()]
    assert events[-1][0] == "completed" and events[-1][1]["counts"]["completed"] == 5
    assert {name for name, _ in events[:-1]} <= {"progress", "heartbeat"}


@pytest.fixture
def keyed(tmp_path: Path, fake_triton: FakeTriton) -> Iterator[KeyedApp]:
    yield from make_keyed_app(tmp_path, fake_triton, job_workers_enabled=False, batch_max_pending_items_per_key=3)


def test_batches_belong_to_their_key(keyed: KeyedApp) -> None:
    client = keyed.client
    batch_id = client.post(f"{V1}/batches", json=[item("a")], headers=keyed.auth("a")).json()["batch_id"]
    for method, path in [("GET", ""), ("GET", "/items"), ("GET", "/results"), ("POST", "/cancel"), ("DELETE", "")]:
        response = client.request(method, f"{V1}/batches/{batch_id}{path}", headers=keyed.auth("b"))
        assert response.status_code == 404, (method, path)
    assert client.get(f"{V1}/batches", headers=keyed.auth("b")).json()["total"] == 0
    assert client.get(f"{V1}/batches", headers=keyed.auth("admin")).json()["total"] == 1
    over = client.post(f"{V1}/batches", json=[item("b"), item("c"), item("d")], headers=keyed.auth("a"))
    assert over.status_code == 429 and "limit of 3" in over.json()["error"]
