"""The playground page: static files (plain HTML, CSS and JavaScript modules: no build step, nothing
fetched from another origin, so it works offline and behind a firewall). `/` and `/playground`
redirect to `/playground/`. The page is open without an API key (api/auth.py): it holds no data,
and every call it makes to the API sends the key its user types."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC = Path(__file__).with_name("static")
PREFIX = "/playground"
# Only this server may be reached from the page (the key it holds never leaves for another origin);
# blob: and data: are the audio it plays and offers for download.
CSP = (
    "default-src 'self'; media-src 'self' blob: data:; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)


class PlaygroundFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-cache"  # revalidated: a new release is seen at once
        return response


async def _to_page() -> RedirectResponse:
    # Relative, so a proxy that serves the API under a path prefix keeps it: from / and /playground
    # alike, "playground/" is /playground/.
    return RedirectResponse("playground/", status_code=307)


def mount(app: FastAPI) -> None:
    for path in ("/", PREFIX):
        app.add_api_route(path, _to_page, methods=["GET"], include_in_schema=False)
    app.mount(PREFIX, PlaygroundFiles(directory=STATIC, html=True), name="playground")
