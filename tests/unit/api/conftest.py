"""Fixtures of the API unit tests: a fake Triton gateway and an app on a temporary SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.services import status
from api.settings import Settings
from tests.unit.api.fakes import FakeTriton


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
