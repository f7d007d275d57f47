"""API keys: making them (shown once, stored hashed), listing and revoking them, and checking the key a
request presents. Who may see what follows from the `Principal` a check returns.

A key reads `qtts_qk_3f9a0c1b_<64 hex digits>`: `qk_3f9a0c1b` is its public id (the primary key of its
row and the owner of what it creates), the 64 hex digits a 256-bit random secret whose SHA-256 is
all the database keeps. A check is one primary-key read and a constant-time comparison of digests;
there is no cache, so a revoked key is refused from its next request on, on every replica.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import anyio
from sqlmodel import Session

from api.errors import ConflictError, NotFoundError, UnauthorizedError
from api.settings import Settings
from api.store import keys as store
from api.store.key_table import ApiKey
from api.store.tables import utc_now

KEY_PATTERN = re.compile(r"^qtts_(qk_[0-9a-f]{8})_([0-9a-f]{64})$")
_ID_ATTEMPTS = 5
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is this precise, and costs a write this often
_MISSING = "missing API key: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
_INVALID = "invalid or revoked API key"


@dataclass(frozen=True)
class Principal:
    """Who is calling. `key_id` is stamped as the owner of the voices and jobs it creates; a caller
    that does not `see_all` finds only its own (anything else is 404, exactly like a missing id)."""

    key_id: str | None
    sees_all: bool

    @property
    def scope(self) -> str | None:
        """The owner whose voices and jobs this caller may see; None: all of them."""
        return None if self.sees_all else self.key_id


# Auth off, the bootstrap admin key (QWEN_TTS_ADMIN_API_KEY), and the job worker acting on a job it
# was given (its access was checked when it was submitted).
UNRESTRICTED = Principal(key_id=None, sees_all=True)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_key(*, name: str, is_admin: bool) -> tuple[ApiKey, str]:
    """A new key's row and the full key (the only time the secret exists outside the client)."""
    key_id, secret = f"qk_{secrets.token_hex(4)}", secrets.token_hex(32)
    row = ApiKey(id=key_id, name=name, secret_sha256=digest(secret), is_admin=is_admin, created_at=utc_now())
    return row, f"qtts_{key_id}_{secret}"


def create_key(session: Session, *, name: str, is_admin: bool) -> tuple[ApiKey, str]:
    if not name.strip() or len(name) > 100:
        raise ValueError("a key name is 1 to 100 characters")
    for _ in range(_ID_ATTEMPTS):
        row, key = new_key(name=name, is_admin=is_admin)
        if store.insert_key(session, row):
            return row, key
    raise ConflictError("could not allocate a unique key id; retry")


def revoke_key(session: Session, *, key_id: str) -> ApiKey:
    row = store.revoke_key(session, key_id, now=utc_now())
    if row is None:
        raise NotFoundError(f"no API key {key_id!r}", field="key_id")
    return row


def presented_key(*, authorization: str | None, x_api_key: str | None) -> str | None:
    """The key a request presents: `Authorization: Bearer <key>`, else `X-API-Key: <key>`."""
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    return None


def _is_admin_key(key: str, settings: Settings) -> bool:
    if settings.admin_api_key is None:
        return False
    return hmac.compare_digest(key.encode(), settings.admin_api_key.get_secret_value().encode())


def check_key(session: Session, key: str | None, *, settings: Settings) -> Principal:
    """The caller a presented key stands for; UnauthorizedError when it is missing, malformed,
    unknown, wrong or revoked (one message for all but missing: nothing to learn by probing)."""
    if key is None:
        raise UnauthorizedError(_MISSING)
    if _is_admin_key(key, settings):
        return UNRESTRICTED
    match = KEY_PATTERN.match(key)
    if match is None:
        raise UnauthorizedError(_INVALID)
    key_id, secret = match.groups()
    row = store.get_key(session, key_id)
    expected = row.secret_sha256 if row is not None else digest("")  # the same work for an unknown id
    if not hmac.compare_digest(expected, digest(secret)) or row is None or row.revoked_at is not None:
        raise UnauthorizedError(_INVALID)
    now = utc_now()
    last = row.last_used_at
    if last is None or (last if last.tzinfo else last.replace(tzinfo=now.tzinfo)) < now - TOUCH_EVERY:
        store.touch_key(session, key_id, now=now, every=TOUCH_EVERY)
    return Principal(key_id=row.id, sees_all=row.is_admin)


async def authenticate(session: Session, key: str | None, *, settings: Settings) -> Principal:
    return await anyio.to_thread.run_sync(partial(check_key, session, key, settings=settings))
