"""Access with QWEN_TTS_AUTH_ENABLED: every route but the open ones needs a valid key (401 otherwise,
also for a revoked key, from its next request on), the two ways to send one, the bootstrap admin key,
the OpenAPI description; CORS settings that cannot be unsafe; errors that show no internals."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.auth import OPEN_PATHS
from api.errors import UnauthorizedError
from api.main import create_app
from api.services import api_keys
from api.settings import Settings
from api.store import keys as store
from api.store.database import Database
from api.store.tables import utc_now
from tests.unit.api.conftest import ADMIN_ENV_KEY, KeyedApp
from tests.unit.api.routes.test_database_down import closed_port

V1 = "/api/v1"
UNAUTHORIZED_TYPES = {"unauthorized"}


def every_operation(app) -> list[tuple[str, str]]:
    """(method, path) of every operation the app documents, path parameters filled in, and the
    routes it serves outside its schema."""
    found = [("GET", path) for path in ("/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")]
    for path, item in app.openapi()["paths"].items():
        found += [(method.upper(), re.sub(r"\{[^}]+\}", "x", path)) for method in item]
    return found


def assert_unauthorized(response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    if response.request.url.path.startswith("/v1/"):  # the OpenAI-compatible API: OpenAI's shape
        assert body["error"]["type"] == "authentication_error" and body["error"]["code"] == "unauthorized", body
        return
    assert body["success"] is False and body["error_type"] == "unauthorized", body


def test_every_route_but_the_open_ones_needs_a_key(keyed: KeyedApp):
    operations = every_operation(keyed.app)
    assert len(operations) > 20
    protected = [(method, path) for method, path in operations if path not in OPEN_PATHS]
    for method, path in protected:
        # An empty body: the key is checked before the body is read (no 422 to an anonymous caller).
        assert_unauthorized(keyed.client.request(method, path))
    assert_unauthorized(keyed.client.get(f"{V1}/no-such-route"))  # nor does it learn which routes exist
    assert_unauthorized(keyed.client.post("/v1/audio/speech", json={"model": "tts-1"}))
    opened = {path for _, path in operations if path in OPEN_PATHS}
    assert {f"{V1}/health", f"{V1}/health/live", "/metrics", "/openapi.json", "/docs"} <= opened
    for path in opened - {f"{V1}/health"}:  # (the fake gateway cannot answer a health check)
        assert keyed.client.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "key",
    [
        "",
        "not-a-key",
        "qtts_qk_00000000_" + "0" * 64,  # well-formed, unknown id
        ADMIN_ENV_KEY + "x",
        ADMIN_ENV_KEY[:-1],
    ],
)
def test_a_wrong_key_is_401_with_one_message(keyed: KeyedApp, key: str):
    for headers in ({"Authorization": f"Bearer {key}"}, {"X-API-Key": key}):
        response = keyed.client.get(f"{V1}/speakers", headers=headers)
        assert_unauthorized(response)
    if key:
        assert response.json()["error"] == "invalid or revoked API key"


def test_a_right_id_with_a_wrong_secret_is_401(keyed: KeyedApp):
    key = keyed.keys["a"]
    forged = key[:-4] + ("0000" if not key.endswith("0000") else "1111")
    assert_unauthorized(keyed.client.get(f"{V1}/speakers", headers={"X-API-Key": forged}))
    other_secret = keyed.keys["a"].rsplit("_", 1)[0] + "_" + keyed.keys["b"].rsplit("_", 1)[1]
    assert_unauthorized(keyed.client.get(f"{V1}/speakers", headers={"X-API-Key": other_secret}))


def test_bearer_and_x_api_key_both_work(keyed: KeyedApp):
    key = keyed.keys["a"]
    for headers in ({"Authorization": f"Bearer {key}"}, {"authorization": f"bearer {key}"}, {"X-API-Key": key}):
        assert keyed.client.get(f"{V1}/speakers", headers=headers).status_code == 200, headers


def test_a_revoked_key_is_refused_from_its_next_request(keyed: KeyedApp):
    assert keyed.client.get(f"{V1}/cloned-voices", headers=keyed.auth("a")).status_code == 200
    with keyed.app.state.database.session() as session:
        api_keys.revoke_key(session, key_id=keyed.ids["a"])
    assert_unauthorized(keyed.client.get(f"{V1}/cloned-voices", headers=keyed.auth("a")))
    assert keyed.client.get(f"{V1}/cloned-voices", headers=keyed.auth("b")).status_code == 200


def test_the_bootstrap_admin_key_from_the_environment(keyed: KeyedApp):
    assert keyed.client.get(f"{V1}/cloned-voices", headers=keyed.auth("env")).status_code == 200
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(admin_api_key="short")
    assert Settings(admin_api_key="").admin_api_key is None  # an empty variable is no key


def test_keys_are_off_by_default(app_client: TestClient):
    assert Settings().auth_enabled is False
    assert app_client.get(f"{V1}/cloned-voices").status_code == 200
    schema = app_client.get("/openapi.json").json()
    assert "securitySchemes" not in schema["components"]
    assert not [op for item in schema["paths"].values() for op in item.values() if "401" in op["responses"]]


def test_openapi_documents_the_key_and_its_401(keyed: KeyedApp):
    schema = keyed.client.get("/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    for path, item in schema["paths"].items():
        for operation in item.values():
            if path in OPEN_PATHS:
                assert "401" not in operation["responses"] and "security" not in operation, path
            else:
                assert "401" in operation["responses"] and operation["security"], path


def test_database_down_while_checking_a_key_is_503_not_500():
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/nothing"
    app = create_app(Settings(database_url=url, database_timeout_seconds=1, auth_enabled=True))
    with TestClient(app) as client:
        assert client.get(f"{V1}/health/live").status_code == 200
        response = client.get(f"{V1}/speakers", headers={"X-API-Key": "qtts_qk_00000000_" + "0" * 64})
        assert response.status_code == 503 and response.headers["retry-after"] == "5", response.text


def test_a_key_is_stored_hashed_and_its_use_recorded_once_a_minute(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'keys.db'}", timeout_seconds=5, pool_size=1)
    database.migrate()
    settings = Settings(auth_enabled=True)
    with database.session() as session:
        row, key = api_keys.create_key(session, name="svc", is_admin=False)
        assert key.split("_")[-1] not in row.secret_sha256 and len(row.secret_sha256) == 64
        assert api_keys.check_key(session, key, settings=settings) == api_keys.Principal(row.id, sees_all=False)
        first = store.get_key(session, row.id).last_used_at
        api_keys.check_key(session, key, settings=settings)
        assert store.get_key(session, row.id).last_used_at == first  # not a write per request
        store.touch_key(session, row.id, now=utc_now() + timedelta(minutes=2), every=api_keys.TOUCH_EVERY)
        assert store.get_key(session, row.id).last_used_at != first
        with pytest.raises(UnauthorizedError):
            api_keys.check_key(session, None, settings=settings)
    database.dispose()


# --- CORS ------------------------------------------------------------------------------------------


def test_a_wildcard_origin_with_credentials_refuses_to_start():
    with pytest.raises(ValidationError, match="wildcard origin"):
        Settings(cors_origins=["https://app.example", "*"], cors_allow_credentials=True)
    Settings(cors_origins=["*"])  # a wildcard without credentials is allowed
    Settings(cors_origins=["https://app.example"], cors_allow_credentials=True)


def test_cors_answers_only_the_listed_origins(tmp_path):
    settings = Settings(data_dir=tmp_path, cors_origins=["https://app.example"], auth_enabled=True)
    with TestClient(create_app(settings)) as client:
        bad = client.get(f"{V1}/health/live", headers={"Origin": "https://evil.example"})
        assert bad.status_code == 200 and "access-control-allow-origin" not in bad.headers
        assert "access-control-allow-credentials" not in bad.headers
        good = client.get(f"{V1}/health/live", headers={"Origin": "https://app.example"})
        assert good.headers["access-control-allow-origin"] == "https://app.example"
        # A preflight carries no key: CORS answers it; the real request then needs one.
        preflight = client.options(
            f"{V1}/speakers",
            headers={
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert preflight.status_code == 200 and "authorization" in preflight.headers["access-control-allow-headers"]
        refused = client.get(f"{V1}/speakers", headers={"Origin": "https://app.example"})
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "https://app.example"


# --- No internals in responses ----------------------------------------------------------------------


def test_an_unexpected_error_shows_no_internals(tmp_path):
    app = create_app(Settings(data_dir=tmp_path))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret detail: password=hunter2 at /srv/app/api/services/x.py line 12")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"success": False, "error": "internal server error", "error_type": "internal"}
    for leak in ("hunter2", "secret", "Traceback", "RuntimeError", ".py"):
        assert leak not in response.text


# --- Metrics on a port of their own ---------------------------------------------------------------


def test_metrics_can_move_to_their_own_port(tmp_path):
    port = closed_port()
    settings = Settings(data_dir=tmp_path, auth_enabled=True, metrics_port=port)
    with TestClient(create_app(settings)) as client:
        assert client.get("/metrics").status_code == 404  # not on the API port any more
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        assert scraped.status_code == 200 and "qwen_tts_http_requests_total" in scraped.text
        with TestClient(create_app(settings)) as second:  # another worker process finds the port taken
            assert second.get(f"{V1}/health/live").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)  # stopped with the app
