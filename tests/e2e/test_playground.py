"""The playground page in a real headless Chromium, through the real API, database and Triton:
synthesis played in the page, an API error shown as such, a voice cloned from an uploaded file and
from the (fake) microphone, used and deleted, a job followed live to 100% and played, a job
cancelled, and the API key field of a server with keys on. Any console error, or any request to
another origin, fails the test (tests/e2e/browser.py). Screenshots: .cache/test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.servers import ApiServer, TritonServer, run_api
from tests.e2e.browser import Browser, chromium
from tests.e2e.jobs.conftest import reference_wav

pytestmark = pytest.mark.e2e

ADMIN_KEY = "e2e-playground-admin-" + "5" * 32
PLAYER_HAS_AUDIO = "document.getElementById('player').duration > 0"


@pytest.fixture
def browser(api: ApiServer) -> Iterator[Browser]:
    with chromium(api.url) as opened:
        opened.page.on("dialog", lambda dialog: dialog.accept())  # "delete this voice?"
        yield opened


def open_page(browser: Browser) -> None:
    browser.page.goto(f"{browser.origin}/")
    browser.until("document.getElementById('speaker').options.length > 1")
    browser.page.click("summary")  # generation settings
    browser.page.fill("#max_new_tokens", "12")  # short audio: the tiny checkpoints on 2 cores


def played(browser: Browser, selector: str) -> None:
    """The element has audio and plays it."""
    browser.until(f"document.querySelector({selector!r}).duration > 0")
    browser.page.evaluate(f"document.querySelector({selector!r}).play()")
    browser.until(f"(a => a.currentTime > 0 || a.ended)(document.querySelector({selector!r}))")


def test_synthesize_clone_and_jobs(browser: Browser, tmp_path: Path):
    page = browser.page
    open_page(browser)
    # a preset speaker: plays, and downloads in the chosen format
    page.select_option("#output_format", "mp3")
    page.click("#generate")
    browser.until(PLAYER_HAS_AUDIO)
    played(browser, "#player")
    assert page.get_attribute("#download", "download") == "speech.mp3"
    assert "1.7B_custom_voice" in page.inner_text("#result-status")
    # an error the API returns is shown as it says (the 0.6B size has no VoiceDesign model)
    page.check("input[value=design]")
    page.select_option("#model_size", "0.6B")
    browser.expect_error("status of 422")
    page.click("#generate")
    message = browser.until("!document.getElementById('error').hidden && document.getElementById('error').innerText")
    assert message.startswith("Invalid input: model_size:"), message
    page.select_option("#model_size", "")
    # a voice cloned from an uploaded file: generated with once, saved, its reference played, used, deleted
    page.check("input[value=clone]")
    wav = tmp_path / "mi-voz.wav"
    wav.write_bytes(reference_wav())
    page.set_input_files("#ref_audio", str(wav))
    page.fill("#ref_text", "Hola, esta es mi voz de referencia")
    page.click("#generate")
    browser.until("document.getElementById('result-status').innerText.includes('voice_clone')")
    page.fill("#voice_name", "Voz del navegador")
    page.click("#save-voice")
    row = "#voices tr:has-text('Voz del navegador')"
    page.wait_for_selector(row)
    page.click(f"{row} >> text=Play reference")
    played(browser, "#ref-player")
    page.click(f"{row} >> text=Use")
    assert page.is_checked("input[value=saved]")
    page.click("#generate")
    browser.until("document.getElementById('result-status').innerText.includes('voice_clone')")
    page.click("#refresh-voices")
    page.wait_for_selector(f"{row} >> td:nth-child(3) >> text='1'")  # used once
    page.click(f"{row} >> text=Delete")
    page.wait_for_selector(row, state="detached")
    # a job: live progress over SSE to 100%, then its audio plays
    page.check("input[value=custom]")
    page.click("#submit-job")
    job = "#jobs li[data-status=completed]"
    page.wait_for_selector(job, timeout=60_000)
    assert page.evaluate(f"document.querySelector('{job} progress').value") == 100
    stages = page.get_attribute(job, "data-stages") or ""
    # A tiny model may finish the job before the page's stream connects: then "completed" is all it saw.
    order = ["created", "queued", "loading_model", "generating", "encoding", "completed"]
    seen = stages.split()
    assert seen and seen[-1] == "completed" and set(seen) <= set(order), stages
    assert [order.index(stage) for stage in seen] == sorted(order.index(stage) for stage in seen), stages
    played(browser, f"{job} audio")
    browser.screenshot("playground")


def test_a_microphone_recording_becomes_a_voice(browser: Browser):
    page = browser.page
    open_page(browser)
    page.check("input[value=clone]")
    page.click("#record")
    page.wait_for_selector("#stop-record:not([disabled])")
    page.wait_for_timeout(2500)  # Chromium's fake microphone: a beep every second
    page.click("#stop-record")
    browser.until("document.getElementById('ref-preview').src.startsWith('blob:')")
    page.fill("#ref_text", "Hola")
    page.fill("#voice_name", "Voz del micro")
    page.click("#save-voice")
    page.wait_for_selector("#voices tr:has-text('Voz del micro')")
    assert page.input_value("#voice_id")  # selected for generation


@pytest.fixture
def keyed_idle_api(triton: TritonServer, log_dir: Path) -> Iterator[ApiServer]:
    """Keys required, and no job worker: a job stays pending until it is cancelled."""
    settings = {"auth_enabled": "true", "admin_api_key": ADMIN_KEY, "job_workers_enabled": "false"}
    with run_api(triton.grpc_url, log_dir, name="api-playground-keys", **settings) as server:
        yield server


def test_api_key_field_and_cancelling_a_job(keyed_idle_api: ApiServer):
    with chromium(keyed_idle_api.url) as browser:
        page = browser.page
        browser.expect_error("status of 401")  # the catalog, before the key is given
        page.goto(f"{keyed_idle_api.url}/")
        page.wait_for_selector("#key-form:not([hidden])")
        assert "API key" in page.inner_text("#error")
        page.fill("#api-key", ADMIN_KEY)
        page.click("#key-form button[type=submit]")
        browser.until("document.getElementById('speaker').options.length > 1")
        assert page.evaluate("sessionStorage.getItem('qwen-tts-api-key')") == ADMIN_KEY
        page.click("#submit-job")
        pending = "#jobs li[data-status=pending]"
        page.wait_for_selector(pending)
        assert "place 1 in the queue" in page.inner_text(pending)
        page.click(f"{pending} >> text=Cancel")
        page.wait_for_selector("#jobs li[data-status=cancelled]")
        browser.screenshot("playground-keys")
    assert not [url for url in browser.urls if ADMIN_KEY in url], "the key never goes in a URL"
