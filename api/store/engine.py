"""SQLAlchemy engines of the store, SQLite or PostgreSQL (the Database of database.py and the
migrations of migrate.py each make their own).

SQLite is tuned for several writers in one process (and a few processes on one host): WAL lets
readers run beside the writer, `busy_timeout` makes a writer wait for the lock instead of failing,
and every transaction starts with `BEGIN IMMEDIATE`, so a transaction that reads and then writes
never hits SQLITE_BUSY half-way (which the busy timeout cannot fix). Foreign keys are off by
default in SQLite: turned on, or deleting a voice would orphan its audio and prompts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import create_engine

SQLITE_POOL_SIZE = 40
"""SQLite connections kept per process: anyio's default limit of worker threads."""


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
        # Connections are kept, as many as threads may ask at once (anyio's 40 worker threads): one
        # opened per session beyond the pool would run the pragmas each time (with batch items
        # completing at once that was a sixth of the API process's time).
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            pool_size=max(pool_size, SQLITE_POOL_SIZE),
            max_overflow=pool_size,
            pool_timeout=timeout_seconds,
        )
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
