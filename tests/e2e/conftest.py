"""Session fixtures: one real Triton server with the tiny checkpoints, one real API in front."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.servers import TINY_DIR, ApiServer, TritonServer, run_api, run_triton

# custom_voice_0_6b stays unloaded on purpose: the tests check the 503 and the on-demand load.
LOADED = ["custom_voice_1_7b", "voice_design_1_7b", "voice_clone_1_7b", "voice_clone_0_6b"]


@pytest.fixture(scope="session")
def log_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def triton(log_dir: Path) -> Iterator[TritonServer]:
    if not (TINY_DIR / "Qwen3-TTS-12Hz-1.7B-CustomVoice").is_dir():
        pytest.fail(f"tiny checkpoints missing in {TINY_DIR}: run scripts/install.sh")
    with run_triton(LOADED, log_dir) as server:
        yield server


@pytest.fixture(scope="session")
def api(triton: TritonServer, log_dir: Path) -> Iterator[ApiServer]:
    with run_api(triton.grpc_url, log_dir) as server:
        yield server


@pytest.fixture
def client(api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{api.url}/api/v1", timeout=300) as http:
        yield http
