"""An OpenAI speech request as one synthesis call: which variant and size speak, with which voice.

The task is `task_type`, else the variant a named model fixes, else Base when `ref_audio` is given or
the voice is a cloned one, else CustomVoice. Voices are looked up in this order: preset speaker (any
case), OpenAI voice name, cloned voice id, cloned voice name (of the caller's own voices).
"""

from __future__ import annotations

import time
from contextlib import AsyncExitStack
from functools import partial

import anyio
from sqlmodel import Session

from api.audio.decode import DecodedAudio
from api.catalog import Variant
from api.errors import ApiError, NotFoundError, ValidationFailed
from api.inference.client import TritonGateway
from api.inference.tensors import SynthesisCall
from api.openai_catalog import TASK_OF_VARIANT, TaskType, model_choice, preset_voice
from api.schemas.openai import SpeechRequest
from api.services import reference
from api.services.api_keys import Principal
from api.services.cloned_voice_tts import sampling, voice_call
from api.services.limits import CallerSlots
from api.services.speech_stream import SpeechOptions, SpeechPlan, SpeechStream, open_stream, use_recorder
from api.services.synthesis import check_text, resolve_size, sampling_of
from api.settings import Settings
from api.store import voices as store
from api.store.database import Database
from api.store.tables import Voice

VOICES_HINT = "see GET /v1/audio/voices"


def invalid(field: str, problem: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {problem}", field=field)


def choose_size(body: SpeechRequest, variant: Variant, settings: Settings) -> str:
    """`model_size` when given (it must agree with a model that fixes one), else the model's size,
    else the server's default; VoiceDesign exists only as 1.7B."""
    choice = model_choice(body.model)
    fixed = choice.size if choice else None
    if body.model_size and fixed and body.model_size != fixed:
        raise invalid("model_size", f"{body.model_size} contradicts model {body.model} ({fixed})")
    size = body.model_size or fixed or settings.default_model_size
    if variant is Variant.VOICE_DESIGN and size != "1.7B":
        field = "model_size" if body.model_size else "model"
        raise invalid(field, "VoiceDesign exists only as 1.7B upstream")
    return resolve_size(size, variant, settings)


async def find_voice(session: Session, principal: Principal, name: str) -> Voice:
    """A cloned voice by id, else by name (404 when neither; 400 when the name is ambiguous)."""
    voice = await anyio.to_thread.run_sync(partial(store.get_voice, session, name, owner=principal.scope))
    if voice is not None:
        return voice
    named = await anyio.to_thread.run_sync(partial(store.voices_named, session, name, owner=principal.scope))
    if len(named) > 1:
        ids = ", ".join(v.id for v in named)
        raise invalid("voice", f"{len(named)} cloned voices are named {name!r}; use an id ({ids})")
    if not named:
        raise NotFoundError(f"voice: unknown voice {name!r}; {VOICES_HINT}", field="voice")
    return named[0]


async def choose_task(body: SpeechRequest, *, session: Session, principal: Principal) -> tuple[TaskType, Voice | None]:
    """The task, and the stored voice when a cloned voice speaks."""
    choice = model_choice(body.model)
    if choice is None:
        raise NotFoundError(f"model: unknown model {body.model!r}; see GET /v1/models", field="model")
    fixed = TASK_OF_VARIANT[choice.variant] if choice.variant else None
    if body.task_type and fixed and body.task_type is not fixed:
        raise invalid("task_type", f"model {body.model} is a {fixed} model, not {body.task_type}")
    task = body.task_type or fixed
    if task is TaskType.VOICE_DESIGN or (task is TaskType.BASE and body.ref_audio):
        return task, None
    if task is None and body.ref_audio:
        return TaskType.BASE, None
    name = body.voice_name
    if not name:
        raise invalid("voice", "field required (a preset, an OpenAI voice or a cloned voice)")
    if preset_voice(name):
        if task is TaskType.BASE:
            raise invalid("voice", f"{name!r} is a preset; Base needs ref_audio or a cloned voice")
        return TaskType.CUSTOM_VOICE, None
    voice = await find_voice(session, principal, name)
    if task is TaskType.CUSTOM_VOICE:
        raise invalid("voice", f"{name!r} is a cloned voice; CustomVoice speaks presets only")
    return TaskType.BASE, voice


async def _reference(body: SpeechRequest, settings: Settings) -> DecodedAudio:
    """`ref_audio` fetched (the SSRF-safe fetch) or decoded from base64, with the upload's checks;
    errors name `ref_audio`."""
    value = body.ref_audio or ""
    try:
        if value.startswith(("http://", "https://")):
            return await reference.from_url(value, settings=settings)
        data = reference.base64_bytes(value, max_bytes=settings.max_upload_bytes, field="ref_audio")
        return await reference.decode(data, field="ref_audio", settings=settings)
    except ApiError as exc:
        exc.message = exc.message.replace("ref_audio_url", "ref_audio")
        exc.field = "ref_audio"
        raise


async def plan_speech(
    body: SpeechRequest, *, session: Session, triton: TritonGateway, settings: Settings, principal: Principal
) -> SpeechPlan:
    check_text(body.input, settings, field="input")
    task, voice = await choose_task(body, session=session, principal=principal)
    size = choose_size(body, task.variant, settings)
    if task is TaskType.CUSTOM_VOICE:
        speaker = preset_voice(body.voice_name or "")
        call = SynthesisCall(
            text=body.input,
            language=body.language,
            speaker=speaker,
            instruct=body.instructions,
            **sampling_of(body, body.seed),
        )
    elif task is TaskType.VOICE_DESIGN:
        if not body.instructions or not body.instructions.strip():
            raise invalid("instructions", "VoiceDesign needs the voice's description here")
        call = SynthesisCall(
            text=body.input, language=body.language, instruct=body.instructions, **sampling_of(body, body.seed)
        )
    elif voice is not None:
        language = body.language if "language" in body.model_fields_set else None  # else the voice's own
        call = await voice_call(
            session=session, triton=triton, settings=settings, voice=voice, size=size,
            text=body.input, language=language, seed=body.seed, params=sampling(body, voice),
        )  # fmt: skip
    else:
        call = await _reference_call(body, settings)
    return SpeechPlan(task.variant, size, call, voice.id if voice else None)


async def _reference_call(body: SpeechRequest, settings: Settings) -> SynthesisCall:
    if not body.x_vector_only_mode and not body.ref_text:
        raise invalid("ref_text", "the transcript of ref_audio is needed (or x_vector_only_mode: true)")
    ref = await _reference(body, settings)
    return SynthesisCall(
        text=body.input,
        language=body.language,
        ref_audio=ref.samples,
        ref_sample_rate=ref.sample_rate,
        ref_text=None if body.x_vector_only_mode else body.ref_text,
        x_vector_only=body.x_vector_only_mode or None,
        **sampling_of(body, body.seed),
    )


async def speak(
    body: SpeechRequest,
    *,
    session: Session,
    database: Database,
    triton: TritonGateway,
    settings: Settings,
    principal: Principal,
    slots: CallerSlots,
) -> SpeechStream:
    """POST /v1/audio/speech: the caller's in-flight slot is held until the stream ends."""
    started = time.perf_counter()
    closing = AsyncExitStack()
    await closing.enter_async_context(slots.slot())
    try:
        plan = await plan_speech(body, session=session, triton=triton, settings=settings, principal=principal)
    except BaseException:
        await closing.aclose()
        raise
    options = SpeechOptions(body.response_format, body.speed, body.stream_format == "sse", len(body.input))
    recorder = use_recorder(database, plan.voice_id)
    return await open_stream(
        triton=triton,
        settings=settings,
        plan=plan,
        options=options,
        on_success=recorder,
        started=started,
        closing=closing,
    )
