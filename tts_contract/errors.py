"""Errors that travel from the engine to the API inside a gRPC stream.

An error response of a decoupled model reaches a streaming client as a bare message, without
Triton's status code. The engine therefore sends a structured message (a small JSON object with a
kind and the client-facing text) and the API decodes it; a message that is not one of ours (Triton's
own errors) decodes to None and the API classifies it by Triton's status.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

_KEY = "qwen_tts_error"


class ErrorKind(StrEnum):
    INVALID_ARGUMENT = "invalid_argument"
    """The request itself is wrong (a bad tensor value): the API answers 422."""
    INTERNAL = "internal"
    """The engine failed on a valid request: the API answers 502."""
    OVERLOADED = "overloaded"
    """The engine cannot take the request now: the API answers 503 with Retry-After."""
    UNHEALTHY = "unhealthy"
    """The model cannot serve any request (its generation loop has stopped): the API answers 503 and
    reloads the model."""


@dataclass(frozen=True)
class EngineError:
    kind: ErrorKind
    message: str


def encode_error(kind: ErrorKind, message: str) -> str:
    return json.dumps({_KEY: {"kind": kind.value, "message": message}}, ensure_ascii=False)


def decode_error(text: str) -> EngineError | None:
    """The structured error in `text`, or None when `text` is not one (Triton's own errors).

    Triton may prepend its own words ("in ensemble ...: "), so the JSON object is searched for."""
    start = text.find("{")
    if start < 0:
        return None
    try:
        body = json.loads(text[start:])
        detail = body[_KEY]
        return EngineError(ErrorKind(detail["kind"]), str(detail["message"]))
    except (ValueError, KeyError, TypeError):
        return None
