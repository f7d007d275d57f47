"""API keys through the real API process (QWEN_TTS_AUTH_ENABLED=true), the real Triton server and a
real database, SQLite and PostgreSQL: keys made and revoked with the operator's command
(`python -m api.keys`), ownership of voices and jobs between two keys and an admin key, 401 for a
missing or wrong key and for a key revoked a moment before, probes and scraping open."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from devtools.databases import fresh_postgres
from devtools.servers import ROOT, ApiServer, TritonServer, run_api
from tests.databases import require_postgres
from tests.e2e.jobs.jobs_client import FAST, wait_for
from tests.e2e.test_cloned_voices import reference_wav

pytestmark = pytest.mark.e2e
ADMIN_ENV_KEY = "e2e-bootstrap-admin-" + "7" * 32


def keys_cli(database_url: str, *args: str) -> str:
    env = {**os.environ, "QWEN_TTS_DATABASE_URL": database_url}
    done = subprocess.run(
        [sys.executable, "-m", "api.keys", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@dataclass
class KeyedApi:
    server: ApiServer
    database_url: str
    keys: dict[str, str]  # "a", "b", "admin" (created by the command), "env" (QWEN_TTS_ADMIN_API_KEY)

    def client(self, who: str | None) -> httpx.Client:
        headers = {} if who is None else {"Authorization": f"Bearer {self.keys[who]}"}
        return httpx.Client(base_url=f"{self.server.url}/api/v1", headers=headers, timeout=120)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def keyed_api(
    request: pytest.FixtureRequest, triton: TritonServer, log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyedApi]:
    settings = {"auth_enabled": "true", "admin_api_key": ADMIN_ENV_KEY, "job_poll_interval_seconds": "0.1"}
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('auth-db') / 'qwen_tts.db'}"
        with run_api(triton.grpc_url, log_dir, name="api-auth-sqlite", database_url=url, **settings) as server:
            yield KeyedApi(server, url, make_keys(url))
        return
    require_postgres()
    with (
        fresh_postgres("qwen_tts_auth") as url,
        run_api(triton.grpc_url, log_dir, name="api-auth-postgresql", database_url=url, **settings) as server,
    ):
        yield KeyedApi(server, url, make_keys(url))


def make_keys(database_url: str) -> dict[str, str]:
    keys = {"env": ADMIN_ENV_KEY}
    for name in ("a", "b", "admin"):
        out = keys_cli(database_url, "create", "--name", f"e2e {name}", *(["--admin"] if name == "admin" else []))
        keys[name] = out.split()[-1]
    return keys


def key_id(key: str) -> str:
    return key.split("_", 1)[1].rsplit("_", 1)[0]


def test_probes_and_scraping_need_no_key_everything_else_does(keyed_api: KeyedApi):
    with keyed_api.client(None) as anonymous:
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/health/live").status_code == 200
        assert httpx.get(f"{keyed_api.server.url}/metrics").status_code == 200
        protected = (("GET", "/speakers"), ("GET", "/cloned-voices"), ("GET", "/jobs"), ("POST", "/tts/custom"))
        for method, path in protected:
            response = anonymous.request(method, path)
            assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer", path
            assert response.json()["error_type"] == "unauthorized"
        wrong = keyed_api.keys["a"][:-6] + "abcdef"
        assert anonymous.get("/speakers", headers={"X-API-Key": wrong}).status_code == 401
        assert anonymous.get("/speakers", headers={"X-API-Key": keyed_api.keys["a"]}).status_code == 200


def test_each_key_sees_only_its_own_voices_and_jobs_until_revoked(keyed_api: KeyedApi):
    a, b, admin, env = (keyed_api.client(who) for who in ("a", "b", "admin", "env"))
    with a, b, admin, env:
        voice = {"name": "Voz de A", "ref_audio_base64": base64.b64encode(reference_wav()).decode(), "ref_text": "Hola"}
        created = a.post("/cloned-voices", json=voice)
        assert created.status_code == 200, created.text
        voice_id = created.json()["voice"]["id"]
        job = {"job_type": "custom_voice", "request_data": {"text": "Hola", "speaker": "Ryan", **FAST}}
        submitted = a.post("/jobs", json=job)
        assert submitted.status_code == 200, submitted.text
        job_id = submitted.json()["job_id"]
        assert wait_for(a, job_id, "completed", "failed")["status"] == "completed"

        generate = {"text": "Hola", "voice_id": voice_id, **FAST}
        for response in (
            b.get(f"/cloned-voices/{voice_id}"),
            b.put(f"/cloned-voices/{voice_id}", json={"name": "mine now"}),
            b.delete(f"/cloned-voices/{voice_id}"),
            b.post("/tts/cloned-voice/generate", json=generate),
            b.post("/jobs", json={"job_type": "cloned_voice_generate", "request_data": generate}),
            b.get(f"/jobs/{job_id}/status"),
            b.get(f"/jobs/{job_id}/result"),
            b.get(f"/jobs/{job_id}/stream"),
            b.post(f"/jobs/{job_id}/cancel"),
            b.delete(f"/jobs/{job_id}"),
        ):
            assert response.status_code == 404, (response.request.url, response.text)
            assert b"audio_base64" not in response.content and b"Voz de A" not in response.content
        assert b.get("/cloned-voices").json()["total"] == 0
        assert b.get("/jobs").json()["total"] == 0

        for owner_or_admin in (a, admin, env):
            assert voice_id in {v["id"] for v in owner_or_admin.get("/cloned-voices").json()["voices"]}
            assert job_id in {j["id"] for j in owner_or_admin.get("/jobs").json()["jobs"]}
        assert a.get(f"/jobs/{job_id}/result").json()["result"]["audio_base64"]
        assert a.post("/tts/cloned-voice/generate", json=generate).status_code == 200

        keys_cli(keyed_api.database_url, "revoke", key_id(keyed_api.keys["a"]))
        refused = a.get(f"/cloned-voices/{voice_id}")  # the very next request
        assert refused.status_code == 401, refused.text
        assert b.get("/cloned-voices").status_code == 200  # other keys go on working
        assert admin.get(f"/cloned-voices/{voice_id}").status_code == 200  # A's voice stays, for the admin
