"""Voice ids, reference audio in base64, merging of generation parameters, and one prompt build
for many concurrent first uses."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.errors import PayloadTooLargeError, ValidationFailed
from api.inference.tensors import ClonePrompt
from api.schemas.voices import ClonedVoiceTTSRequest, VoiceBase, slugify
from api.services import clone_prompts, status, voices
from api.services.api_keys import UNRESTRICTED
from api.services.caller import Caller
from api.services.cloned_voice_tts import sampling
from api.services.reference import base64_bytes
from api.services.voices import new_voice_id
from api.settings import Settings
from api.store.database import Database
from api.store.tables import Voice
from tests.unit.api.fakes import FakeTriton, wav_bytes


@pytest.mark.parametrize(
    ("name", "slug"),
    [("Mi Voz Personal", "mi_voz_personal"), ("  Ñandú  Café! ", "nandu_cafe"), ("日本語 voice 2", "voice_2")],
)
def test_slugs(name: str, slug: str):
    assert slugify(name) == slug


def test_same_name_at_the_same_moment_gives_different_ids():
    ids = {new_voice_id("Mi Voz") for _ in range(1000)}
    assert len(ids) == 1000 and all(i.startswith("mi_voz_") for i in ids)


def testbase64_bytes():
    data = wav_bytes(0.1)
    encoded = base64.b64encode(data).decode()
    assert base64_bytes(encoded, max_bytes=10**6) == data
    assert base64_bytes(f"data:audio/wav;base64,{encoded[:40]}\n{encoded[40:]}", max_bytes=10**6) == data
    with pytest.raises(ValidationFailed, match="ref_audio_base64"):
        base64_bytes("@@@", max_bytes=10**6)
    with pytest.raises(PayloadTooLargeError):
        base64_bytes(encoded, max_bytes=100)


def voice_row(**params) -> Voice:
    now = datetime.now(UTC)
    return Voice(id="v_1", name="v", ref_text="t", language="Spanish", created_at=now, **params)


def test_request_params_override_voice_defaults_field_by_field():
    voice = voice_row(temperature=0.5, top_k=10)
    body = ClonedVoiceTTSRequest(text="x", voice_id="v_1", top_k=3, max_new_tokens=12)
    assert sampling(body, voice) == {
        "temperature": 0.5, "top_p": None, "top_k": 3, "repetition_penalty": None, "max_new_tokens": 12
    }  # fmt: skip
    body = ClonedVoiceTTSRequest(text="x", voice_id="v_1")
    assert set(sampling(body, voice, use_voice_defaults=False).values()) == {None}


def test_concurrent_first_uses_build_one_prompt(tmp_path: Path):
    status._info_cache.update(at=0.0, value=None)
    settings = Settings(data_dir=tmp_path)
    database = Database(settings.database_url, timeout_seconds=10, pool_size=5)
    triton = FakeTriton()

    async def scenario() -> list[ClonePrompt]:
        body = VoiceBase(name="Voz", ref_text="Hola")
        caller = Caller(session=next(database.sessions()), triton=triton, settings=settings, principal=UNRESTRICTED)  # type: ignore[arg-type]
        created = await voices.create_voice(caller, body=body, audio=wav_bytes(), audio_field="ref_audio")
        voice = await voices.get_voice(session=next(database.sessions()), principal=UNRESTRICTED, voice_id=created.id)
        first_uses = (
            clone_prompts.prompt_for(
                session=next(database.sessions()), triton=triton, settings=settings, voice=voice, size="0.6B"
            )  # type: ignore[arg-type]
            for _ in range(8)
        )
        return await asyncio.gather(*first_uses)

    prompts = asyncio.run(scenario())
    database.dispose()
    assert [c["model"] for c in triton.prompt_calls] == ["voice_clone_1_7b", "voice_clone_0_6b"]
    assert all(p.ref_code is not None and p.ref_code.shape == (5, 4) for p in prompts)
