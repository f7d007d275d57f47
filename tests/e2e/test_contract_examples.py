"""The contract's own client examples (../shared/api-spec.md, "Ejemplos de Uso", the cURL of
/tts/clone/upload and the EventSource of the job stream), run as written against the real API,
database and Triton: every field they read is there.

Kept verbatim in tests/e2e/contract_examples/ (checked against the contract when it is beside the
repository). Substituted, and nothing else: the host `http://localhost:8080` (the test server's),
`{job_id}` (a job just submitted) and `/ruta/a/mi-voz.wav` (a real WAV file). The JavaScript `fetch`
example is Node code (`Buffer`, `fs`, top-level await): it runs as an ES module in Node, after one
line the snippet takes for granted (`import fs from "node:fs"`). The EventSource example runs in
headless Chromium on the server's origin (Node 20 has no EventSource)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.servers import ROOT, ApiServer, TritonServer, run_api
from tests.e2e.browser import chromium
from tests.e2e.jobs.conftest import reference_wav, worker_process

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).with_name("contract_examples")
CONTRACT_HOST = "http://localhost:8080"
TTS_FIELDS = {"success", "audio_base64", "sample_rate", "duration_seconds", "model_used", "processing_time_seconds"}
# Records what the page logs (the harness, not the example): console.log's objects as JSON.
CAPTURE = """() => {
  window.__logged = [];
  for (const level of ["log", "error"]) {
    const original = console[level];
    console[level] = (...args) => {
      window.__logged.push([level, ...args.map((a) => (typeof a === "string" ? a : JSON.stringify(a)))]);
      original.apply(console, args);
    };
  }
}"""


def example(name: str, api: ApiServer, **substitutions: str) -> str:
    text = (EXAMPLES / name).read_text().replace(CONTRACT_HOST, api.url)
    for old, new in substitutions.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('contract-db') / 'qwen_tts.db'}"


@pytest.fixture(scope="module")
def idle_api(triton: TritonServer, log_dir: Path, database_url: str) -> Iterator[ApiServer]:
    """No job worker: a job waits until the test starts one (so its stream shows progress first)."""
    settings = {"database_url": database_url, "job_workers_enabled": "false", "job_poll_interval_seconds": "0.1"}
    with run_api(triton.grpc_url, log_dir, name="api-contract", **settings) as server:
        yield server


def test_the_examples_are_the_contracts_verbatim():
    spec = next((p / "shared" / "api-spec.md" for p in ROOT.parents if (p / "shared" / "api-spec.md").exists()), None)
    if spec is None:
        pytest.skip("../shared/api-spec.md is not beside this checkout")
    text = spec.read_text()
    for path in EXAMPLES.iterdir():
        assert path.read_text() in text, path.name


def test_python_example(idle_api: ApiServer, tmp_path: Path):
    script = tmp_path / "example.py"
    script.write_text(example("custom_voice.py", idle_api))
    subprocess.run([sys.executable, str(script)], cwd=tmp_path, check=True, timeout=300)
    # output_format ogg is Ogg Opus (the contract's sample response shows WAV bytes: README says so)
    assert (tmp_path / "output.ogg").read_bytes()[:4] == b"OggS"


def test_javascript_fetch_example_in_node(idle_api: ApiServer, tmp_path: Path):
    source = 'import fs from "node:fs";\n' + example("custom_voice_fetch.mjs", idle_api)
    subprocess.run(["node", "--input-type=module"], input=source.encode(), cwd=tmp_path, check=True, timeout=300)
    assert (tmp_path / "output.ogg").read_bytes()[:4] == b"OggS"


def curl(script: str) -> dict[str, Any]:
    done = subprocess.run(["bash", "-c", script], capture_output=True, check=True, timeout=300)
    return dict(json.loads(done.stdout))


def test_curl_examples(idle_api: ApiServer, tmp_path: Path):
    custom = curl(example("curl_custom.sh", idle_api))
    assert custom.keys() >= TTS_FIELDS and custom["success"] is True and custom["error"] is None
    assert base64.b64decode(custom["audio_base64"])[:4] == b"OggS"
    wav = tmp_path / "mi-voz.wav"
    wav.write_bytes(reference_wav())
    cloned = curl(example("curl_clone_upload.sh", idle_api, **{"/ruta/a/mi-voz.wav": str(wav)}))
    assert cloned.keys() >= TTS_FIELDS and cloned["model_used"] == "1.7B_voice_clone"


def test_eventsource_example_in_the_browser(idle_api: ApiServer, triton: TritonServer, log_dir: Path,
                                           database_url: str):  # fmt: skip
    http = httpx.Client(base_url=f"{idle_api.url}/api/v1", timeout=60)
    body = {  # the contract's own POST /jobs body
        "job_type": "custom_voice",
        "request_data": {"text": "Texto largo a convertir...", "speaker": "Sohee", "language": "Spanish",
                         "output_format": "wav"},
    }  # fmt: skip
    created = http.post("/jobs", json=body).json()
    job_id = created["job_id"]
    assert {"success", "job_id", "job", "stream_url", "status_url"} <= created.keys()
    progress = created["job"]["progress"]
    assert (progress["stage"], progress["percent"], progress["message"]) == ("created", 0, "Job creado")
    with chromium(idle_api.url) as browser:
        browser.page.goto(f"{idle_api.url}/api/v1/health/live")
        browser.page.evaluate(CAPTURE)
        browser.page.add_script_tag(content=example("eventsource.js", idle_api, **{"{job_id}": job_id}))
        browser.until("window.__logged.some(([, text]) => text === '0% - Job creado')")
        with worker_process(triton.grpc_url, log_dir, database_url, "worker-contract"):
            browser.until("window.__logged.some(([, text]) => text === 'Audio generado:')")
        logged = browser.page.evaluate("window.__logged")
    progress = [entry[1] for entry in logged if entry[1] != "Audio generado:"]
    assert progress[0] == "0% - Job creado" and all("undefined" not in line for line in progress), logged
    [result] = [json.loads(entry[2]) for entry in logged if entry[1] == "Audio generado:"]
    assert result.keys() >= TTS_FIELDS and base64.b64decode(result["audio_base64"])[:4] == b"RIFF"
    # what the contract's status, list and result examples show
    job = http.get(f"/jobs/{job_id}/status").json()["job"]
    assert {"id", "type", "status", "progress", "elapsed_seconds"} <= job.keys() and job["status"] == "completed"
    listed = http.get("/jobs").json()
    assert {"id", "type", "status", "elapsed_seconds"} <= listed["jobs"][0].keys() and listed["total"] == 1
    assert http.get(f"/jobs/{job_id}/result").json()["result"] == result
