"""Session fixtures: one real Triton server with the tiny checkpoints, real APIs in front of it
(each on its own throw-away database: SQLite, and PostgreSQL for the voice store tests)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.databases import fresh_postgres
from devtools.servers import TINY_DIR, ApiServer, StoreApi, TritonServer, run_api, run_triton
from tests.databases import require_postgres

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
def api(triton: TritonServer, log_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    database = tmp_path_factory.mktemp("api-db") / "qwen_tts.db"  # never ./var
    # job gauges read every second (default 15 s) so tests/e2e/test_metrics.py need not wait long
    settings = {"database_url": f"sqlite:///{database}", "job_metrics_interval_seconds": "1"}
    with run_api(triton.grpc_url, log_dir, **settings) as server:
        yield server


@pytest.fixture
def client(api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{api.url}/api/v1", timeout=300) as http:
        yield http


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def store_api(
    request: pytest.FixtureRequest, triton: TritonServer, log_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreApi]:
    """The API on a fresh SQLite file, then on a fresh PostgreSQL database (dropped at the end)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store-db') / 'qwen_tts.db'}"
        with run_api(triton.grpc_url, log_dir, name="api-sqlite", database_url=url) as server:
            yield StoreApi(server, url, "sqlite")
        return
    require_postgres()
    with (
        fresh_postgres("qwen_tts_e2e") as url,
        run_api(triton.grpc_url, log_dir, name="api-postgresql", database_url=url) as server,
    ):
        yield StoreApi(server, url, "postgresql")
