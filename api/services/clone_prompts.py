"""Clone prompts of stored voices: computed by a Base model on Triton from the reference audio once
per (voice, model, weights) and stored; every generation reads the stored prompt instead of
fetching, decoding and encoding the reference again (after a restart, or on another replica).

A size or weights without a prompt yet (the voice was made with the other size, or the weights
changed) gets one built from the stored reference audio on first use.
"""

from __future__ import annotations

import asyncio
import weakref
from functools import partial
from typing import Protocol

import anyio
from sqlmodel import Session

from api import metrics
from api.audio.decode import DecodedAudio
from api.catalog import Variant, triton_model_name
from api.errors import ConflictError, NotFoundError
from api.inference.client import TritonGateway
from api.inference.tensors import ClonePrompt
from api.services import reference
from api.services.status import model_weights
from api.settings import Settings
from api.store import voices as store
from api.store.tables import Voice, VoicePrompt, from_npy, to_npy, utc_now

# One build per prompt identity in this process, however many first requests wait for it. Weak
# values: a lock disappears once nobody holds it. (Across replicas the unique constraint decides.)
_builds: weakref.WeakValueDictionary[tuple[str, str, str], asyncio.Lock] = weakref.WeakValueDictionary()


async def resolve_model(*, triton: TritonGateway, size: str) -> tuple[str, str]:
    """The Base model of `size` on Triton and the identity of the weights it serves."""
    model = triton_model_name(size, Variant.VOICE_CLONE)
    return model, await model_weights(triton, model)


class PromptSource(Protocol):
    """What a clone prompt is built from besides the audio: a voice, or the request creating one."""

    ref_text: str
    x_vector_only: bool


async def compute(
    *, triton: TritonGateway, settings: Settings, model: str, audio: DecodedAudio, source: PromptSource
) -> ClonePrompt:
    await triton.ensure_loaded(
        model, on_demand=settings.load_models_on_demand, load_timeout=settings.model_load_timeout_seconds
    )
    with metrics.track_triton(model):
        return await triton.create_clone_prompt(
            model,
            ref_audio=audio.samples,
            ref_sample_rate=audio.sample_rate,
            ref_text=source.ref_text,
            x_vector_only=source.x_vector_only,
        )


def to_row(prompt: ClonePrompt, *, voice_id: str, model: str, weights: str) -> VoicePrompt:
    return VoicePrompt(
        voice_id=voice_id,
        model_name=model,
        weights=weights,
        ref_code=None if prompt.ref_code is None else to_npy(prompt.ref_code),
        spk_embedding=to_npy(prompt.ref_spk_embedding),
        x_vector_only=prompt.x_vector_only,
        created_at=utc_now(),
    )


def from_row(row: VoicePrompt) -> ClonePrompt:
    return ClonePrompt(
        ref_code=None if row.ref_code is None else from_npy(row.ref_code),
        ref_spk_embedding=from_npy(row.spk_embedding),
        x_vector_only=row.x_vector_only,
    )


async def prompt_for(
    *, session: Session, triton: TritonGateway, settings: Settings, voice: Voice, size: str
) -> ClonePrompt:
    """The stored prompt of `voice` for the Base model of `size`; built and stored on first use."""
    model, weights = await resolve_model(triton=triton, size=size)
    row = await anyio.to_thread.run_sync(
        partial(store.get_prompt, session, voice_id=voice.id, model_name=model, weights=weights)
    )
    if row is None:
        lock = _builds.setdefault((voice.id, model, weights), asyncio.Lock())
        async with lock:
            row = await _build(
                session=session, triton=triton, settings=settings, voice=voice, model=model, weights=weights
            )
    return from_row(row)


async def _build(
    *, session: Session, triton: TritonGateway, settings: Settings, voice: Voice, model: str, weights: str
) -> VoicePrompt:
    # A request that waited on the lock finds the prompt its predecessor stored.
    found = await anyio.to_thread.run_sync(
        partial(store.get_prompt, session, voice_id=voice.id, model_name=model, weights=weights)
    )
    if found is not None:
        return found
    data = await anyio.to_thread.run_sync(store.get_audio, session, voice.id)
    if data is None:
        raise ConflictError(
            f"voice {voice.id} has no clone prompt for model {model} with its current weights, and its reference "
            "audio is no longer stored to build one: create the voice again",
            field="voice_id",
        )
    audio = await reference.decode_stored(data, field="ref_audio")
    prompt = await compute(triton=triton, settings=settings, model=model, audio=audio, source=voice)
    row = to_row(prompt, voice_id=voice.id, model=model, weights=weights)
    stored = await anyio.to_thread.run_sync(store.add_prompt, session, row)
    if stored is None:
        raise NotFoundError(f"voice {voice.id} was deleted", field="voice_id")
    return stored
