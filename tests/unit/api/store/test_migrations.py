"""The Alembic migrations: up from nothing, down to nothing, up again; in step with the tables;
safe when several replicas start at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlmodel import SQLModel

import api.store.batch_table
import api.store.job_table
import api.store.tables  # noqa: F401  (the tables the migrations must match)
from api.store.engine import create_db_engine
from api.store.migrate import MIGRATIONS_DIR, current_revision, downgrade, upgrade_to_head

ROOT = Path(__file__).resolve().parents[4]
VOICE_TABLES = {"voices", "voice_audio", "voice_prompts"}  # later migrations add more


def head() -> str:
    return str(ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head())


def tables(url: str) -> set[str]:
    engine = create_db_engine(url, timeout_seconds=5)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database_url: str):
    url = empty_database_url
    upgrade_to_head(url)
    assert tables(url) >= VOICE_TABLES and current_revision(url) == head()
    downgrade(url, "base")
    assert tables(url) == set() and current_revision(url) is None
    upgrade_to_head(url)
    upgrade_to_head(url)  # a second start-up finds nothing to do
    assert tables(url) >= VOICE_TABLES and current_revision(url) == head()


def test_migrations_match_the_tables(empty_database_url: str):
    upgrade_to_head(empty_database_url)
    engine = create_db_engine(empty_database_url, timeout_seconds=5)
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == [], "api/store/tables.py changed without a migration"


def test_replicas_starting_at_once_migrate_once(empty_database_url: str):
    # Processes, as replicas are (Alembic's `op`/`context` are process globals).
    command = [sys.executable, "-m", "api.store.migrate", "upgrade", "head", "--url", empty_database_url]
    replicas = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)]
    outputs = [replica.communicate(timeout=120)[0].decode() for replica in replicas]
    assert [replica.returncode for replica in replicas] == [0, 0, 0], outputs
    assert tables(empty_database_url) >= VOICE_TABLES and current_revision(empty_database_url) == head()
