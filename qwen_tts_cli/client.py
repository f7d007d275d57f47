"""The HTTP client: base URL, API key, and the server's JSON errors as one exception."""

from __future__ import annotations

import os
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8080"


class CliError(Exception):
    """A failure to report to the user (the server's own message when it sent one); exit status 1."""


class Api:
    """The API at `url` (QWEN_TTS_URL), with `api_key` (QWEN_TTS_API_KEY) when the server needs one."""

    def __init__(self, url: str | None = None, api_key: str | None = None, timeout: float = 600.0):
        base = (url or os.environ.get("QWEN_TTS_URL") or DEFAULT_URL).rstrip("/")
        key = api_key or os.environ.get("QWEN_TTS_API_KEY")
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=f"{base}/api/v1", headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise CliError(f"cannot reach {self.http.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise CliError(f"{method} {path}: HTTP {response.status_code}: {_message(response)}")
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs).json()

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs).json()


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    message = str(body.get("error") or body.get("detail") or body)
    errors = body.get("errors")
    if isinstance(errors, list):
        lines = [f"  line {e.get('line')}: {e.get('error')}" for e in errors[:20] if isinstance(e, dict)]
        more = [f"  ... and {len(errors) - 20} more"] if len(errors) > 20 else []
        message = "\n".join([message, *lines, *more])
    return message
