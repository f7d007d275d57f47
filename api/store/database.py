"""The store's database of one process, SQLite or PostgreSQL: its engine (engine.py), sessions, and
whether its schema is at the latest migration (migrate.py).

Store functions (voices.py, keys.py, jobs.py, job_queue.py) are plain blocking functions on a
session, each one short transaction; async code outside a request runs them with `in_session`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from api.errors import DATABASE_DOWN
from api.store.engine import create_db_engine
from api.store.migrate import upgrade_to_head

log = logging.getLogger(__name__)
T = TypeVar("T")


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
        still down raises one of DATABASE_DOWN, which api/http_errors.py answers with 503)."""
        if not self._migrated:
            self.migrate()
        with self._sessions() as session:
            yield session

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session of its own, closed on exit (workers, scripts: code outside a request)."""
        yield from self.sessions()

    async def in_session(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`fn(session, *args, **kwargs)` in a worker thread, on a session of its own."""

        def work() -> T:
            with self.session() as session:
                return fn(session, *args, **kwargs)

        return await anyio.to_thread.run_sync(work)

    def dispose(self) -> None:
        self.engine.dispose()
