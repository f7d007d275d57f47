"""Queries of the `api_keys` table: each function is ONE short transaction on the given session and
returns detached rows. Blocking calls: async code runs them through `anyio.to_thread.run_sync`."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.store.key_table import ApiKey


def insert_key(session: Session, key: ApiKey) -> bool:
    """Store a new key; False when its id is taken (the caller draws another)."""
    try:
        with session.begin():
            session.add(key)
    except IntegrityError:
        return False
    return True


def get_key(session: Session, key_id: str) -> ApiKey | None:
    """One primary-key read: what every authenticated request costs. Always from the database (never
    the session's identity map): a revocation counts from the next read."""
    with session.begin():
        return session.get(ApiKey, key_id, populate_existing=True)


def list_keys(session: Session) -> list[ApiKey]:
    with session.begin():
        return list(session.exec(select(ApiKey).order_by(col(ApiKey.created_at), col(ApiKey.id))).all())


def revoke_key(session: Session, key_id: str, *, now: datetime) -> ApiKey | None:
    """Mark the key revoked (a key revoked before keeps its first time); None: no such key."""
    with session.begin():
        key = session.get(ApiKey, key_id, populate_existing=True)
        if key is not None and key.revoked_at is None:
            key.revoked_at = now
    return key


def touch_key(session: Session, key_id: str, *, now: datetime, every: timedelta) -> None:
    """Record a use, at most once per `every`: a request does not become a write every time."""
    stale = or_(col(ApiKey.last_used_at).is_(None), col(ApiKey.last_used_at) < now - every)
    statement = update(ApiKey).where(col(ApiKey.id) == key_id, stale).values(last_used_at=now)
    with session.begin():
        session.exec(statement.execution_options(synchronize_session=False))
