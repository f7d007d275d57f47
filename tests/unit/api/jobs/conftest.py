"""Each queue test runs on a fresh SQLite file and on a fresh PostgreSQL database, migrated."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.store.database import Database
from tests.databases import fresh_postgres, require_postgres


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
        context = None
    else:
        require_postgres()
        context = fresh_postgres("qwen_tts_jobs")
        url = context.__enter__()
    database = Database(url, timeout_seconds=10, pool_size=8)
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()
        if context is not None:
            context.__exit__(None, None, None)
