"""A batch submission's items: read from the body (a JSON array, a JSON object with `items`, JSONL,
or a multipart upload of either in the field `file`), then each validated exactly as POST /jobs
validates a job. Every invalid item is reported at once (its line, custom_id, field and reason) and
nothing is enqueued.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlmodel import Session
from starlette.datastructures import UploadFile
from starlette.requests import Request

from api.errors import ApiError, BadRequestError, ItemsInvalid, PayloadTooLargeError, ValidationFailed
from api.schemas.batches import BatchItem
from api.schemas.jobs import JobType
from api.services import job_requests
from api.services.api_keys import Principal
from api.settings import Settings

JSONL_TYPES = ("application/jsonl", "application/x-ndjson", "application/x-jsonlines", "application/jsonlines")


@dataclass(frozen=True)
class ValidItem:
    index: int
    custom_id: str | None
    job_type: JobType
    request: BaseModel
    digest: str

    @property
    def file_name(self) -> str:
        """Its audio file in the results: its custom_id (else its place, `item-00001`) and format."""
        return f"{stem(self.index, self.custom_id)}.{getattr(self.request, 'output_format', 'wav')}"


def stem(index: int, custom_id: str | None) -> str:
    return custom_id or f"item-{index + 1:05d}"


async def read_body(request: Request) -> bytes:
    """The raw batch: the body itself, or the `file` field of a multipart upload."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            message = "file: a multipart batch needs its JSONL (or JSON array) in the field 'file'"
            raise ValidationFailed(message, field="file")
        return await upload.read()
    return await request.body()


def _lines(raw: bytes) -> list[tuple[int, Any]]:
    """JSONL: (line number, value) of every non-blank line; a line that is not JSON is a str error."""
    values: list[tuple[int, Any]] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if line.strip():
            try:
                values.append((number, json.loads(line)))
            except ValueError as exc:
                values.append((number, ValueError(f"not valid JSON: {exc}")))
    return values


def parse_body(raw: bytes, content_type: str) -> tuple[list[tuple[int, Any]], str | None]:
    """(line, value) of every item, and the idempotency key of a JSON object body. A JSON array or an
    object with `items` is read whole; anything else (and any JSONL content type) line by line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError("the batch is not UTF-8 text") from exc
    stripped = text.lstrip()
    if content_type.split(";")[0].strip() in JSONL_TYPES or not stripped.startswith(("[", "{")):
        return _lines(raw), None
    try:
        document = json.loads(text)
    except ValueError as exc:
        if stripped.startswith("["):
            raise BadRequestError(f"the batch is not valid JSON: {exc}") from exc
        return _lines(raw), None  # several JSON objects, one per line
    if isinstance(document, dict) and isinstance(document.get("items"), list):
        key = document.get("idempotency_key")
        return list(enumerate(document["items"], start=1)), key if isinstance(key, str) else None
    if isinstance(document, list):
        return list(enumerate(document, start=1)), None
    return [(1, document)], None  # one item alone


def _item(value: Any) -> BatchItem:
    if isinstance(value, ValueError):
        raise ValidationFailed(str(value))
    try:
        return BatchItem.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = "field required" if first["type"] == "missing" else str(first["msg"]).removeprefix("Value error, ")
        raise ValidationFailed(f"{field}: {message}" if field else message, field=field) from exc


def _error(line: int, value: Any, exc: ApiError) -> dict[str, Any]:
    custom_id = value.get("custom_id") if isinstance(value, dict) else None
    return {"line": line, "custom_id": custom_id if isinstance(custom_id, str) else None, "field": exc.field,
            "error": exc.message}  # fmt: skip


async def validate_items(
    values: list[tuple[int, Any]], *, settings: Settings, session: Session, principal: Principal
) -> list[ValidItem]:
    """Every item validated; ItemsInvalid (422) listing each bad one, or a 413 over the item limit."""
    if not values:
        raise ValidationFailed("items: a batch needs at least one item", field="items")
    if len(values) > settings.batch_max_items:
        raise PayloadTooLargeError(
            f"items: {len(values)} items; the limit is {settings.batch_max_items} items per batch", field="items"
        )
    valid, errors, names = [], [], set()
    voices: dict[str, ApiError | None] = {}
    for index, (line, value) in enumerate(values):
        try:
            item = _item(value)
            name = stem(index, item.custom_id)
            if name in names:
                raise ValidationFailed(f"custom_id: {name!r} is used by another item of the batch", field="custom_id")
            request = await job_requests.validate(
                item.job_type, item.request_data, settings=settings, session=session, principal=principal, voices=voices
            )
        except ApiError as exc:
            errors.append(_error(line, value, exc))
            continue
        names.add(name)
        digest = job_requests.fingerprint(item.job_type, request)
        valid.append(ValidItem(index, item.custom_id, item.job_type, request, digest))
    if errors:
        raise ItemsInvalid(f"{len(errors)} of {len(values)} items are invalid; nothing was enqueued", errors)
    return valid
