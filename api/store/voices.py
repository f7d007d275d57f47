"""Queries of the voice store. Each function is ONE short transaction on the given session and
returns detached rows, so no connection (or SQLite lock) is held while a request waits for Triton.

Blocking calls: async code runs them through `anyio.to_thread.run_sync`.

`owner`, where taken: only the voices of this API key id are found (None: every voice). A voice of
another owner is exactly as absent as a missing one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.store.tables import Voice, VoiceAudio, VoicePrompt, utc_now


@dataclass(frozen=True)
class VoiceStats:
    total_voices: int
    total_generations: int
    most_used: Voice | None
    voices_by_language: dict[str, int]


def insert_voice(session: Session, *, voice: Voice, audio: bytes, prompt: VoicePrompt) -> bool:
    """Store a voice with its audio and first prompt; False when the id is taken (caller retries)."""
    try:
        with session.begin():
            session.add(voice)
            session.flush()  # the voice row first: the children's foreign keys point at it
            digest = hashlib.sha256(audio).hexdigest()
            session.add(VoiceAudio(voice_id=voice.id, data=audio, sha256=digest, created_at=voice.created_at))
            session.add(prompt)
    except IntegrityError:
        return False
    return True


def _owned(query: Any, owner: str | None) -> Any:
    return query if owner is None else query.where(col(Voice.owner) == owner)


def get_voice(session: Session, voice_id: str, *, owner: str | None = None) -> Voice | None:
    with session.begin():
        voice = session.get(Voice, voice_id)
    return voice if voice is not None and owner in (None, voice.owner) else None


def voices_named(session: Session, name: str, *, owner: str | None = None, limit: int = 5) -> list[Voice]:
    """Voices whose name is `name` in any case (names may repeat), newest first."""
    query = _owned(select(Voice).where(func.lower(col(Voice.name)) == name.strip().lower()), owner)
    with session.begin():
        return list(session.exec(query.order_by(col(Voice.created_at).desc()).limit(limit)).all())


def list_voices(
    session: Session, *, language: str | None, limit: int, offset: int, owner: str | None = None
) -> tuple[list[Voice], int]:
    """A page of voices, newest first (id breaks ties so pages never overlap), and the total."""
    query = _owned(select(Voice), owner)
    count = _owned(select(func.count()).select_from(Voice), owner)
    if language is not None:
        query = query.where(col(Voice.language) == language)
        count = count.where(col(Voice.language) == language)
    query = query.order_by(col(Voice.created_at).desc(), col(Voice.id)).offset(offset).limit(limit)
    with session.begin():
        return list(session.exec(query).all()), int(session.exec(count).one())


def update_voice(session: Session, voice_id: str, changes: dict[str, Any], *, owner: str | None = None) -> Voice | None:
    with session.begin():
        voice = session.get(Voice, voice_id)
        if voice is None or owner not in (None, voice.owner):
            return None
        for name, value in changes.items():
            setattr(voice, name, value)
    return voice


def delete_voice(session: Session, voice_id: str, *, owner: str | None = None) -> bool:
    """Its audio and prompts go with it (ON DELETE CASCADE)."""
    with session.begin():
        return bool(session.exec(_owned(delete(Voice).where(col(Voice.id) == voice_id), owner)).rowcount)


def record_use(session: Session, voice_id: str) -> bool:
    """Count one generation in SQL, not read-modify-write: concurrent requests never lose a count."""
    statement = (
        update(Voice).where(col(Voice.id) == voice_id).values(use_count=col(Voice.use_count) + 1, last_used=utc_now())
    )
    with session.begin():
        return bool(session.exec(statement).rowcount)


def count_voices(session: Session) -> int:
    """Voices in the store (for the metrics)."""
    with session.begin():
        return int(session.exec(select(func.count()).select_from(Voice)).one())


def voice_stats(session: Session, *, owner: str | None = None) -> VoiceStats:
    totals = _owned(select(func.count(), func.coalesce(func.sum(Voice.use_count), 0)).select_from(Voice), owner)
    top = _owned(select(Voice).where(col(Voice.use_count) > 0), owner)
    top = top.order_by(col(Voice.use_count).desc(), col(Voice.created_at), col(Voice.id)).limit(1)
    by_language = _owned(select(Voice.language, func.count()), owner)
    by_language = by_language.group_by(Voice.language).order_by(Voice.language)
    with session.begin():
        total_voices, total_generations = session.exec(totals).one()
        most_used = session.exec(top).first()
        languages = {language: int(n) for language, n in session.exec(by_language).all()}
    return VoiceStats(int(total_voices), int(total_generations), most_used, languages)


def get_prompt(session: Session, *, voice_id: str, model_name: str, weights: str) -> VoicePrompt | None:
    query = select(VoicePrompt).where(
        col(VoicePrompt.voice_id) == voice_id,
        col(VoicePrompt.model_name) == model_name,
        col(VoicePrompt.weights) == weights,
    )
    with session.begin():
        return session.exec(query).first()


def get_audio(session: Session, voice_id: str) -> bytes | None:
    with session.begin():
        row = session.get(VoiceAudio, voice_id)
        return None if row is None else row.data


def add_prompt(session: Session, prompt: VoicePrompt) -> VoicePrompt | None:
    """Store a prompt built on first use. Another request (or replica) may have stored the same one
    meanwhile: the unique constraint refuses ours and theirs is returned. None: the voice is gone."""
    try:
        with session.begin():
            session.add(prompt)
    except IntegrityError:
        return get_prompt(session, voice_id=prompt.voice_id, model_name=prompt.model_name, weights=prompt.weights)
    return prompt
