"""The `api_keys` table: who may call the API when `auth_enabled` (see api/services/api_keys.py).

Its schema is owned by the Alembic migration `0004_api_keys`: a change here needs a new migration.

- `id` is the public part of a key (`qk_3f9a0c1b`): it names the key in `python -m api.keys list`
  and is the `owner` of the voices and jobs the key creates.
- `secret_sha256`: the SHA-256 of the key's random 256-bit secret. The secret itself is shown once,
  at creation, and never stored: a leaked database gives no usable key (a slow hash would add
  nothing against 256 random bits).
- `revoked_at`: set by `revoke`; a revoked key is refused from the next request on (every request
  reads its row, there is no cache). Rows are never deleted, so an id is never reused.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Column, DateTime, String
from sqlmodel import Field, SQLModel

KEY_ID_LENGTH = 11  # "qk_" + 8 hex digits


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(sa_column=Column(String(KEY_ID_LENGTH), primary_key=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    secret_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    is_admin: bool = Field(default=False, sa_column=Column(Boolean, nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    last_used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
