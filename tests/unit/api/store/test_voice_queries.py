"""The store's queries on SQLite and PostgreSQL: atomic usage counts under concurrency, cascading
deletes, and the race of two first uses building the same prompt."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, select

from api.store import voices as store
from api.store.database import Database
from api.store.tables import Voice, VoiceAudio, VoicePrompt, from_npy, to_npy, utc_now


def session(database: Database) -> Session:
    return next(database.sessions())


def voice(voice_id: str, language: str = "Spanish", age_s: int = 0) -> Voice:
    created = utc_now() - timedelta(seconds=age_s)
    return Voice(id=voice_id, name=voice_id, ref_text="hola", language=language, created_at=created, last_used=created)


def prompt(voice_id: str, model: str = "voice_clone_1_7b", weights: str = "w") -> VoicePrompt:
    codes = to_npy(np.arange(12, dtype=np.int64).reshape(3, 4))
    return VoicePrompt(
        voice_id=voice_id, model_name=model, weights=weights, ref_code=codes,
        spk_embedding=to_npy(np.ones(8, np.float32)), created_at=utc_now(),
    )  # fmt: skip


def add(database: Database, voice_id: str, **kwargs) -> None:
    assert store.insert_voice(
        session(database), voice=voice(voice_id, **kwargs), audio=b"RIFF", prompt=prompt(voice_id)
    )


def test_fifty_concurrent_uses_count_fifty(database: Database):
    add(database, "v_1")
    with ThreadPoolExecutor(16) as pool:
        done = list(pool.map(lambda _: store.record_use(session(database), "v_1"), range(50)))
    assert all(done)
    found = store.get_voice(session(database), "v_1")
    assert found is not None and found.use_count == 50 and found.last_used is not None


def test_delete_leaves_nothing_behind(database: Database):
    add(database, "v_1")
    add(database, "v_2")
    assert store.add_prompt(session(database), prompt("v_1", model="voice_clone_0_6b")) is not None
    assert store.delete_voice(session(database), "v_1") is True
    assert store.delete_voice(session(database), "v_1") is False
    with session(database) as s:
        assert s.exec(select(func.count()).select_from(VoiceAudio)).one() == 1
        assert set(s.exec(select(VoicePrompt.voice_id)).all()) == {"v_2"}


def test_duplicate_id_is_refused_not_overwritten(database: Database):
    add(database, "v_1")
    assert store.insert_voice(session(database), voice=voice("v_1"), audio=b"x", prompt=prompt("v_1")) is False
    assert store.get_audio(session(database), "v_1") == b"RIFF"


def test_the_second_of_two_first_uses_gets_the_first_prompt(database: Database):
    add(database, "v_1")
    first = store.add_prompt(session(database), prompt("v_1", weights="new"))
    second = store.add_prompt(session(database), prompt("v_1", weights="new"))
    assert first is not None and second is not None and second.id == first.id
    assert store.add_prompt(session(database), prompt("gone", weights="new")) is None  # voice deleted meanwhile
    assert second.ref_code is not None and from_npy(second.ref_code).shape == (3, 4)


def test_list_pages_filters_and_stats(database: Database):
    for i, language in enumerate(["English", "Spanish", "Spanish"]):
        add(database, f"v_{i}", language=language, age_s=10 - i)
    for _ in range(3):
        store.record_use(session(database), "v_0")
    store.record_use(session(database), "v_2")
    page, total = store.list_voices(session(database), language=None, limit=2, offset=0)
    assert total == 3 and [v.id for v in page] == ["v_2", "v_1"]  # newest first
    page, total = store.list_voices(session(database), language="Spanish", limit=10, offset=1)
    assert total == 2 and [v.id for v in page] == ["v_1"]
    stats = store.voice_stats(session(database))
    assert (stats.total_voices, stats.total_generations) == (3, 4)
    assert stats.most_used is not None and stats.most_used.id == "v_0"
    assert stats.voices_by_language == {"English": 1, "Spanish": 2}
