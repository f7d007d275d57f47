"""Synthesis with a stored cloned voice: its stored clone prompt, its transcript, its defaults.

No reference audio is touched here (unless the prompt for this model size is missing and has to be
built once, see clone_prompts.py). The rest is the synthesis use case shared with /tts/*.
"""

from __future__ import annotations

from typing import Any

import anyio
from sqlmodel import Session

from api.catalog import Variant
from api.inference.client import TritonGateway
from api.inference.tensors import SynthesisCall, prompt_call
from api.schemas.tts import GENERATION_FIELDS, GenerationParams, TTSResponse
from api.schemas.voices import ClonedVoiceTTSRequest
from api.services import clone_prompts
from api.services.api_keys import Principal
from api.services.longform import Utterance
from api.services.synthesis import SYNC, LongText, check_text, resolve_size, synthesize
from api.services.voices import get_voice
from api.settings import Settings
from api.store import voices as store
from api.store.tables import Voice


def sampling(body: GenerationParams, voice: Voice, *, use_voice_defaults: bool = True) -> dict[str, Any]:
    """The voice's stored parameters (unless use_voice_defaults is false), overridden field by field
    by the ones this request gives."""
    params = {name: getattr(voice, name) for name in GENERATION_FIELDS} if use_voice_defaults else {}
    given = {name: getattr(body, name) for name in GENERATION_FIELDS if getattr(body, name) is not None}
    return {name: None for name in GENERATION_FIELDS} | params | given


async def voice_call(
    *,
    session: Session,
    triton: TritonGateway,
    settings: Settings,
    voice: Voice,
    size: str,
    text: str,
    language: str | None,
    seed: int | None,
    params: dict[str, Any],
) -> SynthesisCall:
    """The call that speaks `text` with a stored voice: its stored clone prompt for `size` (built
    once if missing), its transcript, `params` (see `sampling`) and this request's own seed."""
    prompt = await clone_prompts.prompt_for(session=session, triton=triton, settings=settings, voice=voice, size=size)
    return SynthesisCall(
        text=text,
        language=language or voice.language,
        ref_text=None if prompt.x_vector_only else voice.ref_text,
        **prompt_call(prompt),
        **params,
        seed=seed,  # per request, never a voice default
    )


async def generate(
    *,
    session: Session,
    triton: TritonGateway,
    settings: Settings,
    principal: Principal,
    body: ClonedVoiceTTSRequest,
    long_text: LongText = SYNC,
) -> TTSResponse:
    """Another key's voice is not found (404), as with every use of a voice id."""
    check_text(body.text, settings, long_text)  # before any database or Triton work
    size = resolve_size(body.model_size, Variant.VOICE_CLONE, settings)
    voice = await get_voice(session=session, principal=principal, voice_id=body.voice_id)
    call = await voice_call(
        session=session,
        triton=triton,
        settings=settings,
        voice=voice,
        size=size,
        text=body.text,
        language=body.language,
        seed=body.seed,
        params=sampling(body, voice, use_voice_defaults=body.use_voice_defaults),
    )
    utterance = Utterance(Variant.VOICE_CLONE, size, call)
    response = await synthesize(
        triton=triton, settings=settings, utterance=utterance, output_format=body.output_format, long_text=long_text
    )
    # Counted once the audio exists; a voice deleted meanwhile still gets its audio delivered.
    await anyio.to_thread.run_sync(store.record_use, session, voice.id)
    return response
