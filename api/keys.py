"""Manage API keys (used when QWEN_TTS_AUTH_ENABLED=true), on the database the API uses
(QWEN_TTS_DATABASE_URL, else the SQLite file under QWEN_TTS_DATA_DIR), migrated first:

    python -m api.keys create --name "team-a" [--admin]   # prints the key: shown once, stored hashed
    python -m api.keys list [--json]
    python -m api.keys revoke qk_3f9a0c1b                  # refused from the next request on

An admin key sees (and may delete) every cloned voice and job; any other key only its own.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from api.errors import ApiError
from api.services import api_keys
from api.settings import Settings
from api.store import keys as store
from api.store.database import Database
from api.store.key_table import ApiKey


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite hands back naive UTC times
    return aware.astimezone(UTC).isoformat(timespec="seconds")


def describe(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "admin": key.is_admin,
        "created_at": _time(key.created_at),
        "last_used_at": _time(key.last_used_at),
        "revoked_at": _time(key.revoked_at),
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m api.keys", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", help="database URL (default: the API's own, from its settings)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it (once)")
    create.add_argument("--name", required=True, help="who or what the key is for (1 to 100 characters)")
    create.add_argument("--admin", action="store_true", help="the key sees every voice and job")
    create.add_argument("--json", action="store_true", help="print id and key as JSON")
    listing = commands.add_parser("list", help="list keys (never their secrets)")
    listing.add_argument("--json", action="store_true")
    revoke = commands.add_parser("revoke", help="revoke a key by its id (qk_...)")
    revoke.add_argument("key_id")
    return parser


def _create(session: Session, args: argparse.Namespace) -> None:
    row, key = api_keys.create_key(session, name=args.name, is_admin=args.admin)
    if args.json:
        print(json.dumps({**describe(row), "key": key}))
        return
    kind = "admin key" if row.is_admin else "key"
    print(f"created {kind} {row.id} ({row.name}); keep it, it is shown once:")
    print(key)


def _list(session: Session, args: argparse.Namespace) -> None:
    rows = [describe(row) for row in store.list_keys(session)]
    if args.json:
        print(json.dumps(rows))
        return
    for row in rows:
        state = f"revoked {row['revoked_at']}" if row["revoked_at"] else "active"
        admin = " (admin)" if row["admin"] else ""
        print(f"{row['id']}  {row['name']}{admin}  created {row['created_at']}  {state}")


def _revoke(session: Session, args: argparse.Namespace) -> None:
    row = api_keys.revoke_key(session, key_id=args.key_id)
    print(f"revoked key {row.id} ({row.name}) at {_time(row.revoked_at)}")


COMMANDS = {"create": _create, "list": _list, "revoke": _revoke}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    database = Database(
        args.url or settings.database_url, timeout_seconds=settings.database_timeout_seconds, pool_size=1
    )
    try:
        database.migrate()
        with database.session() as session:
            COMMANDS[args.command](session, args)
        return 0
    except (ApiError, ValueError) as exc:
        print(f"error: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 1
    finally:
        database.dispose()


if __name__ == "__main__":
    sys.exit(main())
