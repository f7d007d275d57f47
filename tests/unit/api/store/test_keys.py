"""`python -m api.keys` (create, list, revoke), as an operator runs it, on SQLite and PostgreSQL: the
database named by the API's own settings, migrated first; the key shown once and stored hashed; a
revoked key refused by the next check."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.errors import UnauthorizedError
from api.services import api_keys
from api.settings import Settings
from api.store import keys as store
from api.store.database import Database

ROOT = Path(__file__).resolve().parents[4]


def keys_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QWEN_TTS_DATABASE_URL": url}
    command = [sys.executable, "-m", "api.keys", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_create_list_revoke(empty_database_url: str):
    url = empty_database_url
    created = keys_cli(url, "create", "--name", "team a")
    assert created.returncode == 0, created.stderr
    key = created.stdout.split()[-1]
    assert api_keys.KEY_PATTERN.match(key), created.stdout
    admin = keys_cli(url, "create", "--name", "ops", "--admin", "--json")
    admin_row = json.loads(admin.stdout)
    assert admin_row["admin"] is True and admin_row["key"].startswith(f"qtts_{admin_row['id']}_")

    listed = json.loads(keys_cli(url, "list", "--json").stdout)
    assert [(k["name"], k["admin"], k["revoked_at"]) for k in listed] == [("team a", False, None), ("ops", True, None)]
    assert key not in keys_cli(url, "list").stdout and key.split("_")[-1] not in json.dumps(listed)

    database = Database(url, timeout_seconds=5, pool_size=1)
    settings = Settings(auth_enabled=True)
    try:
        with database.session() as session:
            key_id = listed[0]["id"]
            assert store.get_key(session, key_id).secret_sha256 == api_keys.digest(key.split("_")[-1])
            assert api_keys.check_key(session, key, settings=settings).key_id == key_id
            revoked = keys_cli(url, "revoke", key_id)
            assert revoked.returncode == 0 and key_id in revoked.stdout, revoked.stderr
            with pytest.raises(UnauthorizedError):
                api_keys.check_key(session, key, settings=settings)  # the same session: no stale row
            assert api_keys.check_key(session, admin_row["key"], settings=settings).sees_all
    finally:
        database.dispose()
    assert json.loads(keys_cli(url, "list", "--json").stdout)[0]["revoked_at"] is not None
    unknown = keys_cli(url, "revoke", "qk_00000000")
    assert unknown.returncode == 1 and "no API key" in unknown.stderr
    assert keys_cli(url, "create", "--name", "").returncode == 1
