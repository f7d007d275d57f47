"""With API keys required, each cloned voice and job belongs to the key that created it: another key
gets 404 for it (exactly as for a missing id) and never sees it in a list; an admin key sees all.
Per-key limits: synchronous requests in flight and pending jobs, 429 with Retry-After beyond them."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.api.conftest import KeyedApp, make_keyed_app
from tests.unit.api.fakes import FakeTriton, wav_bytes

V1 = "/api/v1"
CUSTOM = {"job_type": "custom_voice", "request_data": {"text": "Hola", "speaker": "Ryan", "max_new_tokens": 8}}


def create_voice(keyed: KeyedApp, who: str, name: str) -> str:
    body = {"name": name, "ref_audio_base64": base64.b64encode(wav_bytes()).decode(), "ref_text": "Hola"}
    response = keyed.client.post(f"{V1}/cloned-voices", json=body, headers=keyed.auth(who))
    assert response.status_code == 200, response.text
    return str(response.json()["voice"]["id"])


def submit(keyed: KeyedApp, who: str, body: dict | None = None, **headers: str) -> tuple[int, dict]:
    response = keyed.client.post(f"{V1}/jobs", json=body or CUSTOM, headers={**keyed.auth(who), **headers})
    return response.status_code, response.json()


def assert_not_found(response, field: str) -> None:
    assert response.status_code == 404, response.text
    body = response.json()
    assert body["error_type"] == "not_found" and body["field"] == field and set(body) == {
        "success", "error", "error_type", "field"
    }  # fmt: skip


def test_another_keys_voice_is_not_found_and_not_listed(keyed: KeyedApp, fake_triton: FakeTriton):
    mine = create_voice(keyed, "a", "Mine")
    theirs = create_voice(keyed, "b", "Theirs")
    http, b = keyed.client, keyed.auth("b")
    assert_not_found(http.get(f"{V1}/cloned-voices/{mine}", headers=b), "voice_id")
    assert_not_found(http.put(f"{V1}/cloned-voices/{mine}", json={"name": "stolen"}, headers=b), "voice_id")
    assert_not_found(http.delete(f"{V1}/cloned-voices/{mine}", headers=b), "voice_id")
    assert_not_found(http.get(f"{V1}/cloned-voices/{mine}/audio", headers=b), "voice_id")
    calls = len(fake_triton.synth_calls)
    generate = {"text": "Hola", "voice_id": mine}
    assert_not_found(http.post(f"{V1}/tts/cloned-voice/generate", json=generate, headers=b), "voice_id")
    assert len(fake_triton.synth_calls) == calls  # nothing was synthesized with it
    job = {"job_type": "cloned_voice_generate", "request_data": generate}
    status, body = submit(keyed, "b", job)
    assert status == 404 and body["field"] == "request_data.voice_id", body
    listed = http.get(f"{V1}/cloned-voices", headers=b).json()
    assert [v["id"] for v in listed["voices"]] == [theirs] and listed["total"] == 1
    stats = http.get(f"{V1}/cloned-voices/stats", headers=b).json()
    assert stats["total_voices"] == 1
    # The owner still has it, untouched; the admin keys (database and bootstrap) see both.
    a = keyed.auth("a")
    assert http.get(f"{V1}/cloned-voices/{mine}", headers=a).json()["voice"]["name"] == "Mine"
    assert http.post(f"{V1}/tts/cloned-voice/generate", json=generate, headers=a).status_code == 200
    for admin in ("admin", "env"):
        listed = http.get(f"{V1}/cloned-voices", headers=keyed.auth(admin)).json()
        assert {v["id"] for v in listed["voices"]} == {mine, theirs}, admin
        assert http.get(f"{V1}/cloned-voices/stats", headers=keyed.auth(admin)).json()["total_voices"] == 2
    assert http.delete(f"{V1}/cloned-voices/{theirs}", headers=keyed.auth("admin")).status_code == 200


def test_another_keys_job_is_not_found_and_not_listed(keyed: KeyedApp):
    status, created = submit(keyed, "a")
    assert status == 200, created
    job_id = created["job_id"]
    http, b = keyed.client, keyed.auth("b")
    for method, path in (
        ("GET", f"/jobs/{job_id}/status"),
        ("GET", f"/jobs/{job_id}/result"),
        ("GET", f"/jobs/{job_id}/stream"),
        ("POST", f"/jobs/{job_id}/cancel"),
        ("DELETE", f"/jobs/{job_id}"),
    ):
        assert_not_found(http.request(method, f"{V1}{path}", headers=b), "job_id")
    listed = http.get(f"{V1}/jobs", headers=b).json()
    assert (listed["jobs"], listed["total"], listed["has_more"]) == ([], 0, False)
    mine = http.get(f"{V1}/jobs/{job_id}/status", headers=keyed.auth("a")).json()["job"]
    assert mine["status"] == "pending"  # neither cancelled nor deleted by the other key
    for admin in ("admin", "env"):
        listed = http.get(f"{V1}/jobs", headers=keyed.auth(admin)).json()
        assert [job["id"] for job in listed["jobs"]] == [job_id], admin
    assert http.post(f"{V1}/jobs/{job_id}/cancel", headers=keyed.auth("admin")).status_code == 200


def test_idempotency_keys_belong_to_their_api_key(keyed: KeyedApp):
    status, first = submit(keyed, "a", **{"Idempotency-Key": "order-1"})
    assert status == 200
    status, replay = submit(keyed, "a", **{"Idempotency-Key": "order-1"})
    assert replay["job_id"] == first["job_id"]
    # The same client key from another API key is a new job, never a view of the first one.
    response = keyed.client.post(f"{V1}/jobs", json=CUSTOM, headers={**keyed.auth("b"), "Idempotency-Key": "order-1"})
    assert response.status_code == 200 and "idempotent-replayed" not in response.headers
    assert response.json()["job_id"] != first["job_id"]
    other = {**CUSTOM, "request_data": {**CUSTOM["request_data"], "text": "Otro"}}
    status, _ = submit(keyed, "b", other, **{"Idempotency-Key": "order-1"})
    assert status == 409  # B's own key, reused by B for another request


@pytest.fixture
def limited(tmp_path: Path, fake_triton: FakeTriton) -> Iterator[KeyedApp]:
    yield from make_keyed_app(
        tmp_path, fake_triton, job_workers_enabled=False, job_max_pending_per_key=2, max_inflight_requests_per_key=1
    )


def test_pending_jobs_are_bounded_per_key(limited: KeyedApp):
    assert [submit(limited, "a")[0] for _ in range(2)] == [200, 200]
    response = limited.client.post(f"{V1}/jobs", json=CUSTOM, headers=limited.auth("a"))
    assert response.status_code == 429 and response.headers["retry-after"] == "10", response.text
    assert response.json()["error_type"] == "overloaded"
    assert submit(limited, "b")[0] == 200  # another key is not held back by it


def test_requests_in_flight_are_bounded_per_key(limited: KeyedApp, fake_triton: FakeTriton):
    seen: list[dict[str, int]] = []
    synthesize = fake_triton.synthesize

    async def watching(model, call):
        seen.append(dict(limited.app.state.limiter.by_key))
        return await synthesize(model, call)

    fake_triton.synthesize = watching  # type: ignore[method-assign]
    body = {"text": "Hola", "speaker": "Ryan", "max_new_tokens": 8}
    assert limited.client.post(f"{V1}/tts/custom", json=body, headers=limited.auth("a")).status_code == 200
    assert seen == [{limited.ids["a"]: 1}] and limited.app.state.limiter.by_key == {}  # counted, then released
    limited.app.state.limiter.by_key[limited.ids["a"]] = 1  # one of A's requests is in flight
    refused = limited.client.post(f"{V1}/tts/custom", json=body, headers=limited.auth("a"))
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1", refused.text
    assert limited.client.post(f"{V1}/tts/custom", json=body, headers=limited.auth("b")).status_code == 200
