"""Fixtures of the API unit tests: a fake Triton gateway and an app on a temporary SQLite file, with
and without API keys required; and the store tests' databases (a fresh SQLite file, then a fresh
PostgreSQL database)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import api_keys, status
from api.settings import Settings
from api.store.database import Database
from devtools.databases import fresh_postgres
from tests.databases import require_postgres
from tests.unit.api.fakes import FakeTriton


@pytest.fixture(autouse=True)
def _no_healer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps built here have no Triton: their healer would probe whatever listens on the default port
    (another developer's server). Tests of the healer drive it directly."""
    monkeypatch.setenv("QWEN_TTS_MODEL_HEALING_ENABLED", "false")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    require_postgres()
    with fresh_postgres() as url:
        yield url


@pytest.fixture
def database(empty_database_url: str) -> Iterator[Database]:
    """The empty database, migrated."""
    database = Database(empty_database_url, timeout_seconds=10, pool_size=8)
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def fake_triton() -> FakeTriton:
    status._info_cache.update(at=0.0, value=None)  # engine facts are cached per process
    return FakeTriton()


@pytest.fixture
def app_client(tmp_path: Path, fake_triton: FakeTriton) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path, database_url="")
    app = create_app(settings)
    with TestClient(app) as client:
        app.state.triton = fake_triton
        yield client


ADMIN_ENV_KEY = "bootstrap-admin-key-" + "0" * 24  # QWEN_TTS_ADMIN_API_KEY in these tests


@dataclass
class KeyedApp:
    """An app with auth_enabled and three keys in its database: "a", "b" and "admin" (an admin key)."""

    app: FastAPI
    client: TestClient
    keys: dict[str, str]
    ids: dict[str, str]

    def auth(self, who: str) -> dict[str, str]:
        """Headers of a request made with one of the keys ("env": the bootstrap admin key)."""
        return {"Authorization": f"Bearer {ADMIN_ENV_KEY if who == 'env' else self.keys[who]}"}


def make_keyed_app(tmp_path: Path, fake: FakeTriton, **settings: Any) -> Iterator[KeyedApp]:
    options = {"job_poll_interval_seconds": 0.05, **settings}
    app = create_app(
        Settings(data_dir=tmp_path, database_url="", auth_enabled=True, admin_api_key=ADMIN_ENV_KEY, **options)
    )
    with TestClient(app) as client:
        app.state.triton = fake
        if app.state.job_worker is not None:
            app.state.job_worker.triton = fake
        keys, ids = {}, {}
        with app.state.database.session() as session:
            for name in ("a", "b", "admin"):
                row, keys[name] = api_keys.create_key(session, name=name, is_admin=name == "admin")
                ids[name] = row.id
        yield KeyedApp(app, client, keys, ids)


@pytest.fixture
def keyed(tmp_path: Path, fake_triton: FakeTriton) -> Iterator[KeyedApp]:
    """Keys required; no job worker in this process, so jobs stay pending."""
    yield from make_keyed_app(tmp_path, fake_triton, job_workers_enabled=False)
