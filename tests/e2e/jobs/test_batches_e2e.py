"""Batches through the real API process, the real Triton server (tiny checkpoints) and both
databases: a 1,000-item batch survives its API being killed (SIGKILL) and restarted mid-batch, every
item completes exactly once, its results zip holds 1,000 decodable files; a single job submitted
while the batch runs starts within JOB_START_BOUND seconds; a small batch of another key is not
starved by a big one.

Sizes: 1,000 items of 4 frames each (0.32 s of audio) per database, about a minute each on 2 CPU
cores; the fairness test 200 + 20 items on SQLite.
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
import soundfile as sf
from sqlalchemy import text

from api.store.engine import create_db_engine
from devtools.servers import TritonServer, kill
from tests.e2e.jobs.conftest import job_api
from tests.e2e.jobs.jobs_client import submit, wait_for
from tests.e2e.test_auth import keys_cli

pytestmark = pytest.mark.e2e
ITEMS = 1000
JOB_START_BOUND = 5.0  # seconds from a single job's submission to its start while a batch runs
# A lease short enough that the killed API's running items are taken again within seconds.
SETTINGS = {"job_lease_seconds": "3", "batch_concurrency": "24", "batch_max_running_items": "24"}


def items(n: int, prefix: str = "item") -> list[dict[str, Any]]:
    return [
        {"custom_id": f"{prefix}-{i:04d}", "job_type": "custom_voice",
         "request_data": {"text": f"Frase número {i}.", "speaker": "Ryan", "max_new_tokens": 4, "temperature": 0}}
        for i in range(n)
    ]  # fmt: skip


def batch_state(http: httpx.Client, batch_id: str) -> dict[str, Any]:
    response = http.get(f"/batches/{batch_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def wait_batch(
    http: httpx.Client, batch_id: str, done: int, timeout: float, *, running: bool = False
) -> dict[str, Any]:
    """Until at least `done` items have finished (or the batch has), and with `running` while some
    run, within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = batch_state(http, batch_id)
        counts = state["counts"]
        if state["status"] in ("completed", "cancelled"):
            return state
        if counts["completed"] + counts["failed"] >= done and (counts["processing"] or not running):
            return state
        time.sleep(0.05 if running else 0.5)
    raise TimeoutError(f"batch {batch_id}: {state}")


def item_rows(url: str, batch_id: str) -> list[tuple[str, str, int, str | None]]:
    engine = create_db_engine(url, timeout_seconds=10)
    try:
        with engine.connect() as connection:
            query = text("SELECT custom_id, status, attempts, error FROM jobs WHERE batch_id = :b ORDER BY item_index")
            return [(r[0], r[1], r[2], r[3]) for r in connection.execute(query, {"b": batch_id})]
    finally:
        engine.dispose()


def test_a_1000_item_batch_survives_a_killed_api_and_a_single_job_is_not_held_back(
    triton: TritonServer, log_dir: Path, db_url: str
) -> None:
    kind = db_url.split(":")[0]
    batch_id: str | None = None
    killed: set[str] = set()
    for attempt in range(3):  # a kill that falls between two claims finds nothing running: kill again
        with job_api(triton.grpc_url, log_dir, db_url, f"batch-{kind}-1.{attempt}", **SETTINGS) as first:
            http = httpx.Client(base_url=f"{first.url}/api/v1", timeout=120)
            if batch_id is None:
                created = http.post("/batches", json=items(ITEMS), headers={"Idempotency-Key": "the-big-one"})
                assert created.status_code == 200, created.text[:500]
                batch_id = created.json()["batch_id"]
            before = wait_batch(http, batch_id, done=150 * (attempt + 1), timeout=300, running=True)
            assert before["status"] == "processing"
            kill(first.process)  # SIGKILL: no graceful release; its running items keep their leases until they expire
        killed = {row[0] for row in item_rows(db_url, batch_id) if row[1] == "processing"}
        if killed:
            break
    assert batch_id is not None and killed, "the API was killed while it ran items (three tries)"
    with job_api(triton.grpc_url, log_dir, db_url, f"batch-{kind}-2", **SETTINGS) as second:
        http = httpx.Client(base_url=f"{second.url}/api/v1", timeout=120)
        # the client retries its submission after the crash: the same batch, not a second one
        again = http.post("/batches", json=items(ITEMS), headers={"Idempotency-Key": "the-big-one"})
        assert again.json()["batch_id"] == batch_id and again.headers["Idempotent-Replayed"] == "true"
        wait_batch(http, batch_id, done=before["counts"]["completed"] + 50, timeout=300)
        job_id = submit(http, "custom_voice", text="Hola, soy un trabajo suelto.", speaker="Ryan", max_new_tokens=4)
        single = wait_for(http, job_id, "completed", "failed", timeout=120)
        running = batch_state(http, batch_id)
        started_after = single["started_at"] - single["created_at"]
        final = wait_batch(http, batch_id, done=ITEMS, timeout=900)
        results = http.get(f"/batches/{batch_id}/results")
    assert single["status"] == "completed" and started_after <= JOB_START_BOUND, started_after
    assert running["status"] == "processing", "the single job ran while the batch did"
    assert final["status"] == "completed" and final["counts"] == {
        "pending": 0, "processing": 0, "completed": ITEMS, "failed": 0, "cancelled": 0
    }  # fmt: skip
    rows = item_rows(db_url, batch_id)
    assert len(rows) == ITEMS and len({row[0] for row in rows}) == ITEMS
    assert {row[1] for row in rows} == {"completed"}
    assert {row[0] for row in rows if row[2] == 2} == killed, "the killed items ran again, the rest once"
    assert {row[2] for row in rows} == {1, 2}
    archive = zipfile.ZipFile(io.BytesIO(results.content))
    names = archive.namelist()
    assert len(names) == ITEMS + 1 and names[-1] == "manifest.jsonl"
    assert sorted(names[:-1]) == [f"item-{i:04d}.wav" for i in range(ITEMS)]
    for name in names[:-1]:
        audio, rate = sf.read(io.BytesIO(archive.read(name)))
        assert rate == 24000 and audio.size > 0, name
    print(f"{kind}: single job started {started_after:.3f} s after submission; batch done in {final}")


def test_a_big_batch_does_not_starve_another_keys_small_one(
    triton: TritonServer, log_dir: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'fair.db'}"
    keys = {name: keys_cli(url, "create", "--name", name).strip().split()[-1] for name in ("big", "small")}
    settings = {**SETTINGS, "auth_enabled": "true", "batch_max_running_items": "8", "batch_concurrency": "8"}
    with job_api(triton.grpc_url, log_dir, url, "batch-fair", **settings) as api:

        def client(who: str) -> httpx.Client:
            headers = {"Authorization": f"Bearer {keys[who]}"}
            return httpx.Client(base_url=f"{api.url}/api/v1", headers=headers, timeout=120)

        big = client("big").post("/batches", json=items(200, "big")).json()["batch_id"]
        wait_batch(client("big"), big, done=8, timeout=120)
        small = client("small").post("/batches", json=items(20, "small")).json()["batch_id"]
        wait_batch(client("small"), small, done=20, timeout=300)
    starts = started_order(url)
    first_small = starts.index("small")
    window = starts[first_small : first_small + 40]  # the starts while both keys had items waiting
    print("starts after the small batch arrived:", "".join("s" if o == "small" else "B" for o in window))
    assert window.count("small") >= 16, "the slots are shared about evenly between the two keys"
    # From the items' own times, not from polling (the big batch runs an item every few ms here):
    # while the small batch ran, the big one finished about its share (plus the items it had running).
    times = item_times(url)
    small_from = min(start for who, start, _ in times if who == "small")
    small_to = max(end for who, _, end in times if who == "small")
    big_during = sum(1 for who, _, end in times if who == "big" and small_from < end <= small_to)
    big_by_then = sum(1 for who, _, end in times if who == "big" and end <= small_to)
    assert big_during <= 2 * 20 and big_by_then < 200, "the small batch finished long before the big one"
    print(f"small batch of 20 done while the big one finished {big_during} ({big_by_then} of 200 in all)")


def item_times(url: str) -> list[tuple[str, float, float]]:
    """(custom_id prefix, started_at, finished_at) of every finished item."""
    engine = create_db_engine(url, timeout_seconds=10)
    try:
        with engine.connect() as connection:
            query = text("SELECT custom_id, started_at, finished_at FROM jobs WHERE finished_at IS NOT NULL")
            return [(str(row[0]).split("-")[0], float(row[1]), float(row[2])) for row in connection.execute(query)]
    finally:
        engine.dispose()


def started_order(url: str) -> list[str]:
    """The custom_id prefix ("big" or "small") of every started item, in the order they started."""
    engine = create_db_engine(url, timeout_seconds=10)
    try:
        with engine.connect() as connection:
            query = text("SELECT custom_id FROM jobs WHERE started_at IS NOT NULL ORDER BY started_at")
            return [str(row[0]).split("-")[0] for row in connection.execute(query)]
    finally:
        engine.dispose()
