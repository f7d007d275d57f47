"""A real headless Chromium (Debian's /usr/bin/chromium, installed by scripts/install.sh) driven by
Playwright, for the playground and contract-example tests. Playwright never downloads a browser here.

Every console error and uncaught page error fails the test, unless the test declared it expected
(a 401 or 422 it provokes on purpose: Chromium logs every failed fetch). Every request to another
origin is refused and fails the test too: the page must work offline.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / ".cache" / "test-artifacts"
FLAGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",  # the closed network refuses Google's hosts: no noise, no waits
    "--disable-component-update",
    "--disable-sync",
    "--use-fake-ui-for-media-stream",  # microphone permission granted, and a fake microphone
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
]


@dataclass
class Browser:
    page: Any
    origin: str
    errors: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def expect_error(self, pattern: str) -> None:
        """A console error the test provokes on purpose (matched with re.search)."""
        self.expected.append(re.compile(pattern))

    def until(self, expression: str, timeout: float = 60.0) -> Any:
        """Poll a JavaScript expression until it is truthy (the page's CSP forbids Playwright's
        in-page polling, which evaluates strings); returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.page.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression} still falsy after {timeout}s; errors: {self.errors}")
            time.sleep(0.1)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@contextmanager
def chromium(origin: str) -> Iterator[Browser]:
    """A fresh browser profile with one page; requests outside `origin` are refused and recorded."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} missing: scripts/install.sh installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        context = playwright.chromium.launch_persistent_context(
            profile, executable_path=str(CHROMIUM), headless=True, args=FLAGS, accept_downloads=True
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            browser = Browser(page, origin)
            page.on("console", lambda message: _console(browser, message))
            page.on("pageerror", lambda error: browser.errors.append(f"page error: {error}"))
            context.route("**/*", lambda route: _guard(browser, route))
            yield browser
        finally:
            context.close()
    assert not browser.foreign, f"requests to other origins: {browser.foreign}"
    assert not browser.unexpected(), f"console errors: {browser.unexpected()}"


def _console(browser: Browser, message: Any) -> None:
    if message.type == "error":
        browser.errors.append(message.text)


def _guard(browser: Browser, route: Any) -> None:
    url = route.request.url
    browser.urls.append(url)
    parts = urlsplit(url)
    if parts.scheme in ("blob", "data") or f"{parts.scheme}://{parts.netloc}" == browser.origin:
        route.continue_()
    else:
        browser.foreign.append(url)
        route.abort()
