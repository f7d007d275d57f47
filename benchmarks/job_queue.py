"""Measure the job queue itself (not the model) on a fresh PostgreSQL database (or --url).

1. Throughput: N pending jobs drained by W workers (threads, one session each) calling the queue
   functions directly, claim -> progress -> complete with no work in between: the jobs per second
   the queue sustains (claims with SELECT ... FOR UPDATE SKIP LOCKED under contention).
2. Overhead per job: the real worker loop (api/jobs/worker.py) with a no-op runner; jobs submitted
   one at a time to an idle worker; submission -> start (started_at - created_at), with the
   in-process wake-up POST /jobs uses, and without it (a worker in another replica: polling).

    python -m benchmarks.job_queue [--jobs 2000] [--workers 4] [--url URL] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

from api.jobs import worker
from api.settings import Settings
from api.store import job_queue
from api.store import jobs as store
from api.store.database import Database
from api.store.job_table import Job, JobStatus
from benchmarks.report import emit
from devtools.databases import fresh_postgres


def new_job() -> Job:
    now = time.time()
    return Job(
        id=str(uuid.uuid4()), job_type="custom_voice", status=JobStatus.PENDING, request_data={"text": "hola"},
        request_sha256="0" * 64, progress={"stage": "queued", "percent": 0, "message": "", "timestamp": now},
        created_at=now, updated_at=now,
    )  # fmt: skip


def throughput(database: Database, jobs: int, workers: int) -> dict[str, float]:
    with database.session() as session:
        for _ in range(jobs):
            job_queue.submit(session, new_job())

    def drain(name: str) -> int:
        done = 0
        with database.session() as session:
            while (job := job_queue.claim(session, worker_id=name, lease_seconds=30, max_attempts=3)) is not None:
                progress = {"stage": "generating", "timestamp": 0}
                job_queue.set_progress(session, job.id, worker_id=name, progress=progress)
                job_queue.complete(session, job.id, worker_id=name, result={"success": True})
                done += 1
        return done

    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        done = sum(pool.map(drain, [f"bench-{i}" for i in range(workers)]))
    elapsed = time.perf_counter() - started
    assert done == jobs, (done, jobs)
    return {"jobs": jobs, "workers": workers, "seconds": round(elapsed, 3), "jobs_per_second": round(jobs / elapsed, 1)}


async def overhead(database: Database, samples: int, wake: bool, poll: float) -> dict[str, float]:
    async def no_op(job: Job, **_: Any) -> dict[str, Any]:
        return {"success": True}

    settings = Settings(database_url=database.url, job_poll_interval_seconds=poll)
    with mock.patch.object(worker, "run_job", no_op):
        loop = worker.JobWorker(database=database, triton=None, settings=settings)  # type: ignore[arg-type]
        loop.start()
        delays = []
        for _ in range(samples):
            job, _ = await database.in_session(job_queue.submit, new_job())
            if wake:
                loop.wake()
            state: Job | None = job
            while state is None or state.status != JobStatus.COMPLETED:
                await asyncio.sleep(0.005)
                state = await database.in_session(store.get_state, job.id)
            delays.append((state.started_at or 0) - job.created_at)
        await loop.stop(5)
    ms = sorted(delay * 1000 for delay in delays)
    return {"samples": samples, "wake": wake, "poll_interval_s": poll, "p50_ms": round(statistics.median(ms), 1),
            "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1), "max_ms": round(ms[-1], 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--url", help="a database URL to use instead of a fresh PostgreSQL database")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    with ExitStack() as stack:
        url = args.url or stack.enter_context(fresh_postgres("qwen_tts_bench"))
        database = Database(url, timeout_seconds=10, pool_size=args.workers + 2)
        database.migrate()
        report: dict[str, Any] = {"database": database.engine.dialect.name}
        report["throughput"] = throughput(database, args.jobs, args.workers)
        report["overhead_wake"] = asyncio.run(overhead(database, args.samples, True, 0.25))
        report["overhead_poll"] = asyncio.run(overhead(database, args.samples, False, 0.25))
        database.dispose()
    emit(report, args.json)


if __name__ == "__main__":
    main()
