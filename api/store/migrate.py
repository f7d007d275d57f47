"""Apply the Alembic migrations of the voice store, programmatically and safely across replicas.

Every replica runs `upgrade_to_head` at start-up. The migration runs in ONE transaction that
first takes a lock: on PostgreSQL a transaction-level advisory lock (DDL is transactional there,
so a second replica waits, then finds the schema at head and does nothing); on SQLite the
`BEGIN IMMEDIATE` write lock every transaction takes (see engine.py) plays that part.

    python -m api.store.migrate upgrade head      # or: downgrade base, current
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text

from api.store.engine import create_db_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any constant 64-bit number, the same in every replica: the one migration lock of this schema.
_ADVISORY_LOCK_KEY = 0x51_77_65_6E_54_54_53


@contextmanager
def locked_connection(url: str, *, timeout_seconds: float) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock; committed on success."""
    # Foreign keys off: SQLite "batch" migrations rebuild tables, which would cascade-delete children.
    engine = create_db_engine(url, timeout_seconds=timeout_seconds, pool_size=1, foreign_keys=False)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY})
            yield connection
    finally:
        engine.dispose()


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head", *, timeout_seconds: float = 10.0) -> None:
    with locked_connection(url, timeout_seconds=timeout_seconds) as connection:
        command.upgrade(alembic_config(connection), revision)


def upgrade_to_head(url: str, *, timeout_seconds: float = 10.0) -> None:
    upgrade(url, "head", timeout_seconds=timeout_seconds)


def downgrade(url: str, revision: str, *, timeout_seconds: float = 10.0) -> None:
    with locked_connection(url, timeout_seconds=timeout_seconds) as connection:
        command.downgrade(alembic_config(connection), revision)


def current_revision(url: str, *, timeout_seconds: float = 10.0) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with locked_connection(url, timeout_seconds=timeout_seconds) as connection:
        return MigrationContext.configure(connection).get_current_revision()


def main() -> None:
    from api.settings import Settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["upgrade", "downgrade", "current"])
    parser.add_argument("revision", nargs="?", default="head")
    parser.add_argument("--url", help="database URL (default: QWEN_TTS_DATABASE_URL or the SQLite file)")
    args = parser.parse_args()
    settings = Settings()
    url = args.url or settings.database_url
    timeout = settings.database_timeout_seconds
    if args.action == "upgrade":
        upgrade(url, args.revision, timeout_seconds=timeout)
    elif args.action == "downgrade":
        downgrade(url, args.revision, timeout_seconds=timeout)
    print(current_revision(url, timeout_seconds=timeout))


if __name__ == "__main__":
    main()
