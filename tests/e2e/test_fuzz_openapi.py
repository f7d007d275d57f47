"""Property-based fuzzing of the real API against its own OpenAPI schema (schemathesis).

Every operation gets a few generated requests, valid and invalid, sent to the running API in front of
the session's Triton server. Each response must not be a 5xx, its status must be one the operation
documents, and its content type and body must match what the schema says for that status.

Bounded for CI: a fixed number of examples per operation, derandomized (the same cases every run), no
per-example deadline. Generation is cheap: the synthesis length (`max_new_tokens`, codec frames) is capped
so that a valid request that reaches Triton stays a few frames long.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.main import app
from devtools.servers import ApiServer

MAX_EXAMPLES = 8
MAX_NEW_TOKENS = 8  # codec frames of 80 ms: valid requests synthesize well under a second of audio
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


# The schema is built at collection from the app itself (schemathesis' lazy `from_fixture` loader does not
# run under pytest 9); `test_served_schema_is_the_fuzzed_one` checks the running API serves that schema.
FUZZED = app.openapi()
schema = schemathesis.openapi.from_dict(FUZZED)


@schema.hook
def map_body(context: Any, body: Any) -> Any:
    return _cap_tokens(body)


def _cap_tokens(body: Any) -> Any:
    """Cap `max_new_tokens` (in a JSON body, a form, or a job's request_data) when it is a valid number
    larger than the cap, or absent from a synthesis request (the checkpoint's default is long); invalid
    values stay invalid."""
    if not isinstance(body, dict):
        return body
    value = body.get("max_new_tokens")
    if ("max_new_tokens" not in body and ("text" in body or "input" in body)) or (
        isinstance(value, int) and not isinstance(value, bool) and value > MAX_NEW_TOKENS
    ):
        body["max_new_tokens"] = MAX_NEW_TOKENS
    elif isinstance(value, str) and value.isdigit() and int(value) > MAX_NEW_TOKENS:  # a multipart form field
        body["max_new_tokens"] = str(MAX_NEW_TOKENS)
    if isinstance(body.get("request_data"), dict):
        _cap_tokens(body["request_data"])
    return body


def test_served_schema_is_the_fuzzed_one(api: ApiServer) -> None:
    assert httpx.get(f"{api.url}/openapi.json").json() == FUZZED


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_matches_its_schema(case: Any, api: ApiServer) -> None:
    case.call_and_validate(base_url=api.url, checks=CHECKS, timeout=60)
