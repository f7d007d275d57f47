"""Run one claimed job: the synchronous endpoints' services, with progress reported by stage.

Stages are the contract's, reported as they start: `loading_model` when a worker takes the job (the
model is checked, loaded on demand) and again while the reference is prepared (fetching or decoding
the reference audio, loading a stored voice, building its clone prompt), `generating` (the Triton
call), and our own `encoding` (the audio codec). Triton answers a generation in one piece, so the
percent of a stage is where that stage starts, not measured work: events carry
`percent_is_estimate: true`. `created` (submission), `queued` (given back for a retry) and the final
stages are written by the queue (api/store/job_queue.py, api/services/jobs.py).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from pydantic import BaseModel

from api.inference.client import TritonGateway
from api.inference.tensors import ClonePrompt, SynthesisCall
from api.schemas.jobs import JobType, VoiceCloneFileRequest
from api.schemas.tts import CustomVoiceRequest, TTSResponse, VoiceCloneURLRequest, VoiceDesignRequest
from api.schemas.voices import ClonedVoiceTTSRequest
from api.services import cloned_voice_tts, job_requests, reference, synthesis
from api.services.api_keys import UNRESTRICTED
from api.settings import Settings
from api.store.database import Database
from api.store.job_table import Job

Report = Callable[[str], Awaitable[None]]

# step reported -> (the contract's stage, percent where it starts, message)
STAGES: dict[str, tuple[str, int, str]] = {
    "loading_model": ("loading_model", 15, "Cargando modelo..."),
    "preparing_reference": ("loading_model", 15, "Preparando audio de referencia..."),
    "generating": ("generating", 50, "Generando audio..."),
    "encoding": ("encoding", 90, "Codificando audio..."),
}


def progress(step: str) -> dict[str, Any]:
    stage, percent, message = STAGES[step]
    return {
        "stage": stage,
        "percent": percent,
        "message": message,
        "timestamp": time.time(),
        "percent_is_estimate": True,
    }


_REPORTED = frozenset({"synthesize", "create_clone_prompt", "_inner", "_report"})


class ReportingGateway(TritonGateway):
    """The process's gateway, reporting the stages its calls mark: a clone prompt build prepares the
    reference, an inference call generates, and its return starts the encoding (synthesize encodes
    right after it). Everything else is delegated unchanged."""

    def __init__(self, inner: TritonGateway, report: Report):  # no super().__init__: no channel of its own
        self._inner = inner
        self._report = report

    def __getattribute__(self, name: str) -> Any:
        # Every other method is the inner gateway's own, bound to it (it uses its own channel).
        if name in _REPORTED or name.startswith("__"):
            return object.__getattribute__(self, name)
        return getattr(object.__getattribute__(self, "_inner"), name)

    async def synthesize(self, model: str, call: SynthesisCall) -> tuple[np.ndarray, int]:
        await self._report("generating")
        audio = await self._inner.synthesize(model, call)
        await self._report("encoding")
        return audio

    async def create_clone_prompt(
        self, model: str, *, ref_audio: np.ndarray, ref_sample_rate: int, ref_text: str | None, x_vector_only: bool
    ) -> ClonePrompt:
        await self._report("preparing_reference")
        return await self._inner.create_clone_prompt(
            model, ref_audio=ref_audio, ref_sample_rate=ref_sample_rate, ref_text=ref_text, x_vector_only=x_vector_only
        )


async def _clone(
    body: VoiceCloneURLRequest, audio: bytes | None, triton: TritonGateway, settings: Settings
) -> TTSResponse:
    """Clone from the URL, or from `audio` (the inline file) when given."""
    if audio is None:
        ref = await reference.from_url(body.ref_audio_url, settings=settings)
    else:
        ref = await reference.decode(audio, field="ref_audio_base64")
    return await synthesis.synthesize_clone(body, ref, triton=triton, settings=settings)


async def _from_file(body: VoiceCloneFileRequest, triton: TritonGateway, settings: Settings) -> TTSResponse:
    audio = job_requests.reference_audio(body.ref_audio_base64, max_bytes=settings.max_upload_bytes)
    fields = body.model_dump(exclude={"ref_audio_base64"})
    return await _clone(VoiceCloneURLRequest(**fields, ref_audio_url="inline"), audio, triton, settings)


async def _stored_voice(
    body: ClonedVoiceTTSRequest, triton: TritonGateway, settings: Settings, database: Database
) -> TTSResponse:
    # The submitting key's access to the voice was checked when the job was accepted.
    with database.session() as session:
        return await cloned_voice_tts.generate(
            session=session, triton=triton, settings=settings, principal=UNRESTRICTED, body=body
        )


async def _dispatch(body: BaseModel, triton: TritonGateway, settings: Settings, database: Database) -> TTSResponse:
    if isinstance(body, CustomVoiceRequest):
        return await synthesis.synthesize_custom(body, triton=triton, settings=settings)
    if isinstance(body, VoiceDesignRequest):
        return await synthesis.synthesize_design(body, triton=triton, settings=settings)
    if isinstance(body, VoiceCloneURLRequest):
        return await _clone(body, None, triton, settings)
    if isinstance(body, VoiceCloneFileRequest):
        return await _from_file(body, triton, settings)
    if isinstance(body, ClonedVoiceTTSRequest):
        return await _stored_voice(body, triton, settings, database)
    raise TypeError(f"no runner for {type(body).__name__}")


def _skip_repeats(report: Report) -> Report:
    """A step reported twice in a row (a reference prepared, then its clone prompt built) is one event."""
    last: list[str] = []

    async def once(step: str) -> None:
        if last != [step]:
            last[:] = [step]
            await report(step)

    return once


async def run_job(
    job: Job, *, triton: TritonGateway, settings: Settings, database: Database, report: Report
) -> dict[str, Any]:
    """The job's result (the synchronous endpoint's response body); raises ApiError as it would."""
    job_type = JobType(job.job_type)
    body = job_requests.parse(job_type, job.request_data)
    report = _skip_repeats(report)
    if job_type in (JobType.VOICE_CLONE_URL, JobType.VOICE_CLONE_FILE, JobType.CLONED_VOICE_GENERATE):
        await report("preparing_reference")
    response = await _dispatch(body, ReportingGateway(triton, report), settings, database)
    return response.model_dump(mode="json")
