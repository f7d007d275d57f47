"""The engine and session factory of the voice store, SQLite or PostgreSQL, and its schema state.

SQLite is tuned for several writers in one process (and a few processes on one host): WAL lets
readers run beside the writer, `busy_timeout` makes a writer wait for the lock instead of failing,
and every transaction starts with `BEGIN IMMEDIATE`, so a transaction that reads and then writes
never hits SQLITE_BUSY half-way (which the busy timeout cannot fix). Foreign keys are off by
default in SQLite: turned on, or deleting a voice would orphan its audio and prompts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, create_engine

from api.errors import DATABASE_DOWN

log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(engine: Engine, *, busy_timeout_ms: int, foreign_keys: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own implicit transactions are off: SQLAlchemy's "begin" event below owns them.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; safe with WAL
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if foreign_keys else 'OFF'}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(url: str, *, timeout_seconds: float, pool_size: int = 5, foreign_keys: bool = True) -> Engine:
    """An engine for `url`; `foreign_keys=False` only for migrations that rebuild SQLite tables."""
    parsed = make_url(url)
    if is_sqlite(url):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False}, pool_timeout=timeout_seconds)
        _sqlite_pragmas(engine, busy_timeout_ms=int(timeout_seconds * 1000), foreign_keys=foreign_keys)
        return engine
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeout_seconds,
        pool_pre_ping=True,  # a restarted PostgreSQL leaves dead pooled connections behind
        connect_args={"connect_timeout": max(1, round(timeout_seconds))},
    )


class Database:
    """One engine per API process, plus whether its schema is known to be at the latest migration."""

    def __init__(self, url: str, *, timeout_seconds: float, pool_size: int):
        self.url = url
        self.engine = create_db_engine(url, timeout_seconds=timeout_seconds, pool_size=pool_size)
        # expire_on_commit=False: rows read in one short transaction stay usable after it ends,
        # so no connection is held while a request waits for Triton.
        self._sessions = sessionmaker(self.engine, class_=Session, expire_on_commit=False)
        self._timeout = timeout_seconds
        self._migrated = False
        self._lock = threading.Lock()

    def migrate(self) -> None:
        """Bring the schema to the latest migration (once per process; safe across replicas)."""
        from api.store.migrate import upgrade_to_head

        with self._lock:
            if not self._migrated:
                upgrade_to_head(self.url, timeout_seconds=self._timeout)
                self._migrated = True

    def try_migrate(self) -> None:
        """At start-up: a database that is down must not stop the API serving plain TTS."""
        try:
            self.migrate()
        except DATABASE_DOWN as exc:
            log.error("database unreachable at start-up; voice routes answer 503 until it is back: %s", exc)

    def sessions(self) -> Iterator[Session]:
        """A session per request; the schema is migrated first if start-up could not do it (a database
        still down raises one of DATABASE_DOWN, which errors.py answers with 503)."""
        if not self._migrated:
            self.migrate()
        with self._sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
