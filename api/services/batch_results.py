"""A batch's results as a zip streamed to the client while it is read: one audio file per completed
item (named by its custom_id, else `item-00001`, with its format's extension), then `manifest.jsonl`,
one line per item in order (index, custom_id, file, job_id, status, duration_seconds, error,
error_type). Items are read a page at a time, so memory stays flat whatever the batch's size; the
files are stored, not deflated (the audio formats compress themselves, wav hardly at all)."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import AsyncIterator
from typing import Any

from api.store import batches as store
from api.store.database import Database
from api.store.job_table import Job, JobStatus

PAGE = 50


class _Sink(io.RawIOBase):
    """An unseekable stream collecting what zipfile writes, handed on chunk by chunk."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


def manifest_entry(job: Job, with_file: bool) -> dict[str, Any]:
    return {
        "index": job.item_index,
        "custom_id": job.custom_id,
        "file": job.file_name if with_file else None,
        "job_id": job.id,
        "status": job.status,
        "duration_seconds": job.audio_seconds,
        "error": job.error,
        "error_type": job.error_type,
    }


async def results_zip(database: Database, batch_id: str) -> AsyncIterator[bytes]:
    sink = _Sink()
    archive = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED)
    manifest: list[str] = []
    after = -1
    while True:
        page = await database.in_session(store.items, batch_id, after=after, limit=PAGE, results=True)
        for job in page:
            audio = (job.result or {}).get("audio_base64") if job.status == JobStatus.COMPLETED else None
            if audio and job.file_name:
                archive.writestr(job.file_name, base64.b64decode(audio))
            manifest.append(json.dumps(manifest_entry(job, with_file=bool(audio)), ensure_ascii=False))
        if chunk := sink.take():
            yield chunk
        if len(page) < PAGE:
            break
        after = int(page[-1].item_index or 0)
    archive.writestr("manifest.jsonl", "\n".join(manifest) + "\n")
    archive.close()
    yield sink.take()
