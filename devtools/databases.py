"""Throw-away PostgreSQL databases: a fresh uniquely named database on the server named by
QWEN_TTS_TEST_POSTGRES_URL (default: the local one), dropped afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get("QWEN_TTS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _admin_connection() -> Any:
    import psycopg

    url = make_url(ADMIN_URL)
    return psycopg.connect(
        host=url.host, port=url.port or 5432, user=url.username, password=url.password,
        dbname=url.database, autocommit=True, connect_timeout=3,
    )  # fmt: skip


def postgres_available() -> bool:
    try:
        _admin_connection().close()
    except Exception:
        return False
    return True


@contextmanager
def fresh_postgres(prefix: str = "qwen_tts_test") -> Iterator[str]:
    """A new empty database; its URL; dropped (connections and all) on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
