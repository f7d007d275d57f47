"""Run one claimed job: the synchronous endpoints' services, with progress reported by stage.

Stages are the contract's, reported as they start: `loading_model` when a worker takes the job (the
model is checked, loaded on demand) and again while the reference is prepared (fetching or decoding
the reference audio, loading a stored voice, building its clone prompt), `generating` (the Triton
calls), and our own `encoding` (the audio codec). Triton answers a generation in one piece, so the
percent of a stage is where that stage starts, not measured work: events carry
`percent_is_estimate: true`. A long text (split into segments, api/services/longform.py) reports
`generating` again as each segment is done, with `segments_done` and `segments_total`, the percent
moving from 50 to 90 with them. Steps only go forward, each once: a clone prompt built mid-generation
(a long VoiceDesign text) reports nothing. `created` (submission), `queued` (given back for a retry)
and the final stages are written by the queue (api/store/job_queue.py, api/services/jobs.py).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel

from api.inference.client import TritonGateway
from api.inference.tensors import ClonePrompt
from api.schemas.jobs import JobType, VoiceCloneFileRequest
from api.schemas.tts import CustomVoiceRequest, TTSResponse, VoiceCloneURLRequest, VoiceDesignRequest
from api.schemas.voices import ClonedVoiceTTSRequest
from api.services import cloned_voice_tts, job_requests, reference, synthesis
from api.services.api_keys import UNRESTRICTED
from api.services.synthesis import LongText
from api.settings import Settings
from api.store.database import Database
from api.store.job_table import Job

Report = Callable[..., Awaitable[None]]
"""`report(step, segments=(done, total) | None)`: record the job's progress."""

# step reported -> (the contract's stage, percent where it starts, message)
STAGES: dict[str, tuple[str, int, str]] = {
    "loading_model": ("loading_model", 15, "Cargando modelo..."),
    "preparing_reference": ("loading_model", 15, "Preparando audio de referencia..."),
    "generating": ("generating", 50, "Generando audio..."),
    "encoding": ("encoding", 90, "Codificando audio..."),
}
ORDER = list(STAGES)


def progress(step: str, segments: tuple[int, int] | None = None) -> dict[str, Any]:
    stage, percent, message = STAGES[step]
    data: dict[str, Any] = {"stage": stage, "percent": percent, "message": message, "percent_is_estimate": True}
    if segments is not None:
        done, total = segments
        data.update(segments_done=done, segments_total=total)
        if step == "generating":
            data["percent"] = round(percent + (STAGES["encoding"][1] - percent) * done / total, 1)
            data["message"] = f"Generando audio: {done} de {total} segmentos"
    return {**data, "timestamp": time.time()}


class ForwardOnly:
    """The job's reports, one at a time, never a step back: an earlier stage than the last (or the
    same stage and segment count again) is dropped."""

    def __init__(self, report: Report):
        self._report = report
        self._last: tuple[int, int] = (-1, -1)
        self._lock = asyncio.Lock()

    async def __call__(self, stage: str, segments: tuple[int, int] | None = None) -> None:
        key = (ORDER.index(stage), segments[0] if segments else -1)
        async with self._lock:
            if key <= self._last:
                return
            self._last = key
            await self._report(stage, segments=segments)

    async def segments(self, done: int, total: int) -> None:
        """A long text's segments: generating while some remain, encoding once all are done."""
        counts = (done, total) if total > 1 else None
        await self("generating" if done < total else "encoding", counts)


_REPORTED = frozenset({"create_clone_prompt", "_inner", "_report"})


class ReportingGateway(TritonGateway):
    """The process's gateway, reporting the stage its calls mark: a clone prompt build prepares the
    reference. Everything else is delegated unchanged."""

    def __init__(self, inner: TritonGateway, report: Report):  # no super().__init__: no channel of its own
        self._inner = inner
        self._report = report

    def __getattribute__(self, name: str) -> Any:
        # Every other method is the inner gateway's own, bound to it (it uses its own channel).
        if name in _REPORTED or name.startswith("__"):
            return object.__getattribute__(self, name)
        return getattr(object.__getattribute__(self, "_inner"), name)

    async def create_clone_prompt(self, model: str, **kwargs: Any) -> ClonePrompt:
        await self._report("preparing_reference")
        return await self._inner.create_clone_prompt(model, **kwargs)


async def _clone(
    body: VoiceCloneURLRequest, audio: bytes | None, triton: TritonGateway, settings: Settings, long_text: LongText
) -> TTSResponse:
    """Clone from the URL, or from `audio` (the inline file) when given."""
    if audio is None:
        ref = await reference.from_url(body.ref_audio_url, settings=settings)
    else:
        ref = await reference.decode(audio, field="ref_audio_base64")
    return await synthesis.synthesize_clone(body, ref, triton=triton, settings=settings, long_text=long_text)


async def _from_file(
    body: VoiceCloneFileRequest, triton: TritonGateway, settings: Settings, long_text: LongText
) -> TTSResponse:
    audio = job_requests.reference_audio(body.ref_audio_base64, max_bytes=settings.max_upload_bytes)
    fields = body.model_dump(exclude={"ref_audio_base64"})
    return await _clone(VoiceCloneURLRequest(**fields, ref_audio_url="inline"), audio, triton, settings, long_text)


async def _stored_voice(
    body: ClonedVoiceTTSRequest, triton: TritonGateway, settings: Settings, database: Database, long_text: LongText
) -> TTSResponse:
    # The submitting key's access to the voice was checked when the job was accepted.
    with database.session() as session:
        return await cloned_voice_tts.generate(
            session=session, triton=triton, settings=settings, principal=UNRESTRICTED, body=body, long_text=long_text
        )


async def _dispatch(
    body: BaseModel, triton: TritonGateway, settings: Settings, database: Database, long_text: LongText
) -> TTSResponse:
    if isinstance(body, CustomVoiceRequest):
        return await synthesis.synthesize_custom(body, triton=triton, settings=settings, long_text=long_text)
    if isinstance(body, VoiceDesignRequest):
        return await synthesis.synthesize_design(body, triton=triton, settings=settings, long_text=long_text)
    if isinstance(body, VoiceCloneURLRequest):
        return await _clone(body, None, triton, settings, long_text)
    if isinstance(body, VoiceCloneFileRequest):
        return await _from_file(body, triton, settings, long_text)
    if isinstance(body, ClonedVoiceTTSRequest):
        return await _stored_voice(body, triton, settings, database, long_text)
    raise TypeError(f"no runner for {type(body).__name__}")


async def run_job(
    job: Job, *, triton: TritonGateway, settings: Settings, database: Database, report: Report
) -> dict[str, Any]:
    """The job's result (the synchronous endpoint's response body); raises ApiError as it would."""
    job_type = JobType(job.job_type)
    body = job_requests.parse(job_type, job.request_data)
    forward = ForwardOnly(report)
    if job_type in (JobType.VOICE_CLONE_URL, JobType.VOICE_CLONE_FILE, JobType.CLONED_VOICE_GENERATE):
        await forward("preparing_reference")
    long_text = job_requests.job_text(settings, forward.segments, batch_item=job.batch_id is not None)
    response = await _dispatch(body, ReportingGateway(triton, forward), settings, database, long_text)
    return response.model_dump(mode="json")
