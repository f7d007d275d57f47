"""The playground's static files: where they are served, that they load without an API key while the
API still needs one, and that nothing in them reaches another origin (it must work offline)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from api.playground import STATIC
from api.settings import Settings
from tests.unit.api.conftest import KeyedApp


def test_root_and_playground_lead_to_the_page(app_client: TestClient):
    for path in ("/", "/playground"):
        response = app_client.get(path, follow_redirects=False)
        assert response.status_code == 307 and response.headers["location"] == "playground/"
    page = app_client.get("/")
    assert page.status_code == 200 and str(page.url).endswith("/playground/")
    assert "<title>Qwen3-TTS playground</title>" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    script = app_client.get("/playground/js/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]


def test_the_page_loads_without_a_key_and_the_api_still_needs_one(keyed: KeyedApp):
    http = keyed.client
    for path in ("/playground/", "/playground/style.css", "/playground/js/api.js"):
        assert http.get(path).status_code == 200, path
    assert http.get("/api/v1/speakers").status_code == 401
    # a path under /playground/ only ever reaches the static files: no way round the key
    assert http.get("/playground/%2e%2e/api/v1/speakers").status_code == 404
    assert http.get("/playground/../api/v1/speakers").status_code in (401, 404)


def test_nothing_is_fetched_from_another_origin():
    files = [path for path in Path(STATIC).rglob("*") if path.is_file()]
    assert {path.suffix for path in files} <= {".html", ".css", ".js"}
    external = re.compile(r"""(?:src|href|url|import|from)\s*[=(]?\s*["']?(?:https?:)?//""", re.IGNORECASE)
    for path in files:
        assert not external.search(path.read_text(encoding="utf-8")), path


def test_the_playground_can_be_turned_off(tmp_path: Path):
    app = create_app(Settings(data_dir=tmp_path, database_url="", playground_enabled=False))
    with TestClient(app) as client:
        assert client.get("/", follow_redirects=False).status_code == 404
        assert client.get("/playground/").status_code == 404
