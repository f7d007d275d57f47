"""The `qwen-tts` command as a user runs it (the console script scripts/install.sh puts in the
environment, as a subprocess) against the real API, Triton (tiny checkpoints) and database:
`say` into an mp3, `voices create|list|delete`, and `batch` interrupted with Ctrl-C mid-batch and
run again: the folder ends complete and no item is synthesized or downloaded twice.

Sizes: 120 lines of 4 frames each, 4 items at a time, so the interruption lands mid-batch; about
40 s on 2 CPU cores.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import soundfile as sf

from api.audio.decode import decode_audio
from devtools.servers import ApiServer, TritonServer, run_api
from tests.e2e.test_tts_endpoints import reference_wav

pytestmark = pytest.mark.e2e
CLI = Path(sys.executable).with_name("qwen-tts")
LINES = 120


@pytest.fixture(scope="module")
def cli_api(triton: TritonServer, log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> ApiServer:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli-db') / 'cli.db'}"
    settings = {"database_url": url, "batch_concurrency": "4", "job_poll_interval_seconds": "0.1"}
    with run_api(triton.grpc_url, log_dir, name="api-cli", **settings) as server:
        yield server


def qwen_tts(api: ApiServer, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QWEN_TTS_URL": api.url}
    return subprocess.run([str(CLI), *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def test_the_console_script_is_installed() -> None:
    assert CLI.is_file(), f"{CLI} missing: scripts/install.sh installs the project with its console script"


def test_say_writes_an_mp3(cli_api: ApiServer, tmp_path: Path) -> None:
    out = tmp_path / "hola.mp3"
    done = qwen_tts(cli_api, "say", "Hola. ¿Qué tal estás?", "--voice", "ryan", "-o", str(out), "--seed", "3")
    assert done.returncode == 0, done.stderr
    audio = decode_audio(out.read_bytes())
    assert audio.sample_rate == 24000 and audio.duration_seconds > 0


def test_voices_create_list_delete(cli_api: ApiServer, tmp_path: Path) -> None:
    reference = tmp_path / "ref.wav"
    reference.write_bytes(reference_wav())
    created = qwen_tts(cli_api, "voices", "create", "mi voz", "--audio", str(reference), "--ref-text", "hola")
    assert created.returncode == 0, created.stderr
    voice_id = created.stdout.strip()
    assert voice_id in qwen_tts(cli_api, "voices", "list").stdout
    out = tmp_path / "clon.wav"
    spoken = qwen_tts(cli_api, "say", "Hola otra vez.", "--voice", "mi voz", "-o", str(out))
    assert spoken.returncode == 0, spoken.stderr
    assert sf.info(str(out)).samplerate == 24000
    assert qwen_tts(cli_api, "voices", "delete", voice_id).returncode == 0
    assert voice_id not in qwen_tts(cli_api, "voices", "list").stdout
    missing = qwen_tts(cli_api, "voices", "delete", voice_id)
    assert missing.returncode == 1 and "404" in missing.stderr


def test_batch_interrupted_and_resumed_ends_complete_with_nothing_twice(cli_api: ApiServer, tmp_path: Path) -> None:
    lines = tmp_path / "lines.jsonl"
    rows = [json.dumps({"text": f"Línea número {i}.", "max_new_tokens": 4}) for i in range(LINES)]
    lines.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    command = [str(CLI), "batch", str(lines), "--out", str(out), "--voice", "Vivian", "--poll", "0.2"]
    env = {**os.environ, "QWEN_TTS_URL": cli_api.url}
    first = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.wav"))) < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    first.send_signal(signal.SIGINT)  # Ctrl-C
    _, first_err = first.communicate(timeout=60)
    assert first.returncode == 130, first_err
    assert "run the same command again" in first_err
    assert 20 <= len(list(out.glob("*.wav"))) < LINES, "interrupted mid-batch"
    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert second.returncode == 0, second.stderr
    assert "items," in second.stderr and "ETA" in second.stderr, "the progress bar"
    files = sorted(path.name for path in out.glob("*.wav"))
    assert files == [f"line-{n:05d}.wav" for n in range(1, LINES + 1)]
    assert all(sf.info(str(out / name)).frames > 0 for name in files)
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(manifest) == LINES and {m["status"] for m in manifest} == {"completed"}
    assert not list(out.glob("*.part"))
    with httpx.Client(base_url=f"{cli_api.url}/api/v1") as http:
        batches = http.get("/batches").json()
        assert batches["total"] == 1, "the second run followed the first run's batch"
        items = http.get(f"/batches/{batches['batches'][0]['id']}/items", params={"limit": 1000}).json()["items"]
        job_ids = {item["job_id"] for item in items}
        attempts = {http.get(f"/jobs/{job_id}/status").json()["job"]["attempts"] for job_id in job_ids}
    assert len(job_ids) == LINES and attempts == {1}, "each item synthesized once"
    downloads = Counter(re.findall(r"GET /api/v1/jobs/([0-9a-f-]{36})/result", cli_api.log_path.read_text()))
    assert set(downloads) == job_ids and max(downloads.values()) == 1, "each result downloaded once"
