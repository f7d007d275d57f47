"""A lock held across replicas while one of them does something that must not happen twice at once
(the healer's reload of a model, api/healing). PostgreSQL: a session-level advisory lock on a
connection of its own, released explicitly or when that connection closes (a replica that dies
holding it frees it). SQLite serves one replica: the lock is always free.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from sqlalchemy import Connection, text

from api.store.database import Database

log = logging.getLogger(__name__)


class _Free:
    """The held lock of a database that serves one replica (SQLite)."""

    def close(self) -> None:
        return None


FREE = _Free()


def _key(name: str) -> int:
    """A stable signed 64-bit key for `name` (PostgreSQL's advisory lock key type is bigint)."""
    return int.from_bytes(hashlib.sha256(f"qwen-tts:{name}".encode()).digest()[:8], "big", signed=True)


def try_lock(database: Database, name: str) -> Connection | _Free | None:
    """Take the lock `name` if free: the handle to `release`, or None when another replica holds it."""
    if database.engine.dialect.name != "postgresql":
        return FREE
    connection = database.engine.connect()
    try:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _key(name)}).scalar()
        connection.commit()
    except Exception:
        connection.close()
        raise
    if not taken:
        connection.close()
        return None
    return connection


def release(handle: Any, name: str) -> None:
    """Give the lock back (a connection that cannot be told is dropped: its lock goes with it)."""
    if not isinstance(handle, Connection):
        return
    try:
        handle.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _key(name)})
        handle.commit()
        handle.close()
    except Exception as exc:
        log.warning("releasing lock %s failed, dropping its connection: %s", name, exc)
        handle.invalidate()
        handle.close()
