"""Upgrades keep data: a database built at each earlier Alembic revision, with voices (their audio
and clone prompts), jobs and API keys in it as that revision stored them, is upgraded to head on
SQLite and PostgreSQL; every row and blob is still there, byte for byte, and the API still serves
them: lists and reads the voice, generates with its stored prompt, runs the pending job, and
accepts the key."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, insert, select

from api.main import create_app
from api.services.api_keys import digest
from api.settings import Settings
from api.store.engine import create_db_engine
from api.store.migrate import MIGRATIONS_DIR, upgrade, upgrade_to_head
from api.store.tables import to_npy
from tests.unit.api.fakes import FakeTriton, wav_bytes

SCRIPTS = ScriptDirectory(str(MIGRATIONS_DIR))
EARLIER = [r.revision for r in reversed(list(SCRIPTS.walk_revisions())) if r.revision != SCRIPTS.get_current_head()]
NOW = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
AUDIO = wav_bytes(1.5)
CODES = np.arange(5 * 4, dtype=np.int64).reshape(5, 4)
EMBEDDING = np.linspace(-1, 1, 8, dtype=np.float32)
KEY_ID, SECRET = "qk_0badc0de", "5" * 64


def rows() -> dict[str, list[dict[str, Any]]]:
    """What each table holds, in every column any revision had (a revision writes those it has)."""
    voice = {
        "id": "mi_voz_3a8b5505", "name": "Mi voz", "description": "grave", "ref_text": "Hola, esta es mi voz",
        "language": "Spanish", "x_vector_only": False, "temperature": 0.7, "top_p": 0.9, "top_k": 40,
        "repetition_penalty": 1.1, "max_new_tokens": 300, "created_at": NOW, "last_used": None, "use_count": 2,
        "owner": KEY_ID,
    }  # fmt: skip
    job = {
        "id": "5a0f4c1e-0000-4000-8000-000000000001", "job_type": "custom_voice", "status": "pending",
        "request_data": {"text": "Hola", "speaker": "Ryan", "language": "Spanish", "max_new_tokens": 8},
        "idempotency_key": f"{KEY_ID}:order-1", "request_sha256": "a" * 64,
        "progress": {"stage": "queued", "percent": 0, "message": "Job en cola", "timestamp": 1.0},
        "result": None, "error": None, "error_type": None, "worker_id": None, "lease_expires_at": None,
        "attempts": 0, "version": 1, "created_at": 1.0, "updated_at": 1.0, "started_at": None,
        "finished_at": None, "not_before": None, "owner": KEY_ID,
    }  # fmt: skip
    done = {
        **job, "id": "5a0f4c1e-0000-4000-8000-000000000002", "status": "completed", "idempotency_key": None,
        "result": {"success": True, "audio_base64": "UklGRg==", "sample_rate": 24000},
        "finished_at": time.time(),  # recent: not purged as an expired result
    }  # fmt: skip
    batch = {"seq": 1, "id": "b47c0000-0000-4000-8000-000000000001", "owner": KEY_ID, "idempotency_key": None,
             "request_sha256": "b" * 64, "total": 1, "created_at": 2.0, "cancelled_at": None}  # fmt: skip
    item = {
        **done, "id": "5a0f4c1e-0000-4000-8000-000000000003", "batch_id": batch["id"], "custom_id": "uno",
        "item_index": 0, "file_name": "0000_uno.wav", "audio_seconds": 0.5,
    }  # fmt: skip
    return {
        "voices": [voice],
        "voice_audio": [{"voice_id": voice["id"], "data": AUDIO, "sha256": hashlib.sha256(AUDIO).hexdigest(),
                         "created_at": NOW}],
        "voice_prompts": [{"id": 1, "voice_id": voice["id"], "model_name": "voice_clone_1_7b",
                           "weights": "/w/1.7B-Base", "ref_code": to_npy(CODES), "spk_embedding": to_npy(EMBEDDING),
                           "x_vector_only": False, "created_at": NOW}],
        "jobs": [job, done, item],
        "batches": [batch],
        "api_keys": [{"id": KEY_ID, "name": "team-a", "secret_sha256": digest(SECRET), "is_admin": False,
                      "created_at": NOW, "revoked_at": None, "last_used_at": None}],
    }  # fmt: skip


@contextmanager
def engine(url: str) -> Iterator[Engine]:
    found = create_db_engine(url, timeout_seconds=10)
    try:
        yield found
    finally:
        found.dispose()


def write_as_of_revision(url: str) -> dict[str, list[dict[str, Any]]]:
    """Insert every row into the tables this revision has, in the columns it has; what was written."""
    written: dict[str, list[dict[str, Any]]] = {}
    with engine(url) as db:
        schema = MetaData()
        schema.reflect(db)
        with db.begin() as connection:
            for name, table_rows in rows().items():
                if name not in schema.tables:
                    continue
                table = schema.tables[name]
                kept = [{k: v for k, v in row.items() if k in table.columns} for row in table_rows]
                for row in kept:  # one by one: an executemany takes the first row's columns for all
                    connection.execute(insert(table), row)
                written[name] = kept
    return written


def read_back(url: str, written: dict[str, list[dict[str, Any]]]) -> None:
    with engine(url) as db:
        schema = MetaData()
        schema.reflect(db)
        with db.connect() as connection:
            for name, expected in written.items():
                table = schema.tables[name]
                found = [dict(row._mapping) for row in connection.execute(select(table))]
                key = "id" if "id" in table.columns else "voice_id"  # jobs: not the sequence (its pk)
                found_by_key = {row[key]: row for row in found}
                assert len(found) == len(expected), name
                for row in expected:
                    stored = found_by_key[row[key]]
                    for column, value in row.items():
                        assert _same(stored[column], value), (name, column, stored[column], value)


def _same(stored: Any, written: Any) -> bool:
    if isinstance(written, dt.datetime) and isinstance(stored, dt.datetime):
        naive = stored.replace(tzinfo=dt.UTC) if stored.tzinfo is None else stored  # SQLite drops the zone
        return naive == written
    if isinstance(written, bytes):
        return bytes(stored) == written
    return bool(stored == written)


@pytest.mark.parametrize("revision", EARLIER)
def test_data_of_an_earlier_revision_survives_the_upgrade_and_still_works(
    empty_database_url: str, revision: str, tmp_path: Path
) -> None:
    url = empty_database_url
    upgrade(url, revision)
    written = write_as_of_revision(url)
    assert "voices" in written  # every revision has the voice store
    upgrade_to_head(url)
    read_back(url, written)
    with_keys = "api_keys" in written
    use_app(url, tmp_path, written, with_keys=with_keys)


def use_app(url: str, tmp_path: Path, written: dict[str, list[dict[str, Any]]], *, with_keys: bool) -> None:
    """The API on the upgraded database: the voice, its prompt, the jobs and the key all serve."""
    settings = Settings(data_dir=tmp_path, database_url=url, auth_enabled=with_keys, job_poll_interval_seconds=0.05)
    app = create_app(settings)
    fake = FakeTriton()
    headers = {"Authorization": f"Bearer qtts_{KEY_ID}_{SECRET}"} if with_keys else {}
    with TestClient(app) as client:
        app.state.triton = fake
        if app.state.job_worker is not None:
            app.state.job_worker.triton = fake
        voice_id = written["voices"][0]["id"]
        listed = client.get("/api/v1/cloned-voices", headers=headers)
        assert listed.status_code == 200, listed.text
        assert [v["id"] for v in listed.json()["voices"]] == [voice_id]
        assert client.get(f"/api/v1/cloned-voices/{voice_id}", headers=headers).json()["voice"]["name"] == "Mi voz"
        generated = client.post("/api/v1/tts/cloned-voice/generate", json={"voice_id": voice_id, "text": "Hola"},
                                headers=headers)  # fmt: skip
        assert generated.status_code == 200, generated.text
        [call] = [call for model, call in fake.synth_calls if model == "voice_clone_1_7b"]
        assert not fake.prompt_calls  # the stored prompt, not one rebuilt from the audio
        np.testing.assert_array_equal(call.ref_code, CODES)
        np.testing.assert_array_equal(call.ref_spk_embedding, EMBEDDING)
        for job in written.get("jobs", []):
            status = client.get(f"/api/v1/jobs/{job['id']}/status", headers=headers)
            assert status.status_code == 200, status.text
        if "jobs" in written:
            pending = written["jobs"][0]["id"]
            _until_completed(client, pending, headers)
            done = client.get(f"/api/v1/jobs/{written['jobs'][1]['id']}/result", headers=headers)
            assert done.json()["result"]["audio_base64"] == "UklGRg==", done.text
            # Jobs written before 0006 have no request id; the job run here was submitted by no request
            assert client.get(f"/api/v1/jobs/{pending}/status", headers=headers).json()["job"]["request_id"] is None
        for batch in written.get("batches", []):
            view = client.get(f"/api/v1/batches/{batch['id']}", headers=headers).json()
            assert (view["status"], view["total"], view["counts"]["completed"]) == ("completed", 1, 1), view
            assert view["audio_seconds"] == 0.5, view
            items = client.get(f"/api/v1/batches/{batch['id']}/items", headers=headers).json()["items"]
            assert [(i["index"], i["custom_id"], i["status"]) for i in items] == [(0, "uno", "completed")], items


def _until_completed(client: TestClient, job_id: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        job = client.get(f"/api/v1/jobs/{job_id}/status", headers=headers).json()["job"]
        if job["status"] == "completed":
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} written before the upgrade never completed: {job}")
