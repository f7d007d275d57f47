"""SQLModel tables of the voice store. Their schema is owned by the Alembic migrations in
`api/store/migrations/versions/`: a change here needs a new migration there.

- `voices`: what the API shows about a voice, its default generation parameters and usage counts.
- `voice_audio`: the reference recording as uploaded (bytes), kept so a clone prompt can be built
  again for another model size or new weights. In its own table so listing voices never reads it.
- `voice_prompts`: the clone prompt (reference speech codes + speaker embedding) computed by one
  Base model with one set of weights, as `.npy` bytes. Generation reads only this.

Children reference `voices.id` with ON DELETE CASCADE: deleting a voice leaves nothing behind.
`voices.owner` is the id of the API key that created the voice (migration `0004_api_keys`); NULL
when auth was off or the bootstrap admin key created it (then only admin keys see it).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Column, DateTime, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.store.key_table import KEY_ID_LENGTH


def utc_now() -> datetime:
    return datetime.now(UTC)


def _voice_fk() -> Column[str]:
    return Column(String(160), ForeignKey("voices.id", ondelete="CASCADE"), nullable=False)


class Voice(SQLModel, table=True):
    __tablename__ = "voices"

    id: str = Field(sa_column=Column(String(160), primary_key=True))
    name: str = Field(sa_column=Column(String(100), nullable=False))
    description: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    ref_text: str = Field(sa_column=Column(Text, nullable=False))
    language: str = Field(sa_column=Column(String(32), nullable=False, index=True))
    x_vector_only: bool = False
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    max_new_tokens: int | None = None
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_used: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    use_count: int = 0
    owner: str | None = Field(default=None, sa_column=Column(String(KEY_ID_LENGTH), nullable=True, index=True))


class VoiceAudio(SQLModel, table=True):
    __tablename__ = "voice_audio"

    voice_id: str = Field(sa_column=Column(String(160), ForeignKey("voices.id", ondelete="CASCADE"), primary_key=True))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sha256: str = Field(sa_column=Column(String(64), nullable=False))
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class VoicePrompt(SQLModel, table=True):
    __tablename__ = "voice_prompts"
    __table_args__ = (UniqueConstraint("voice_id", "model_name", "weights", name="uq_voice_prompts_identity"),)

    id: int | None = Field(default=None, primary_key=True)
    voice_id: str = Field(sa_column=_voice_fk())
    model_name: str = Field(sa_column=Column(String(64), nullable=False))
    weights: str = Field(sa_column=Column(String(1024), nullable=False))
    ref_code: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    spk_embedding: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    x_vector_only: bool = False
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def to_npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def from_npy(data: bytes) -> np.ndarray:
    # allow_pickle=False: a tampered row cannot run code in the API process.
    return np.load(io.BytesIO(data), allow_pickle=False)
