"""The queue functions on real SQLite and PostgreSQL: FIFO claims, exclusive claims under
concurrency, leases that expire and are claimed again, attempts running out, idempotent submission
(concurrent retries included), cancellation, release and purge."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from api.store import job_queue
from api.store import jobs as store
from api.store.database import Database
from api.store.job_table import Job, JobStatus

LEASE = 30.0


def new_job(key: str | None = None, text: str = "hola") -> Job:
    now = time.time()
    return Job(
        id=str(uuid.uuid4()), job_type="custom_voice", status=JobStatus.PENDING,
        request_data={"text": text, "speaker": "Ryan"}, idempotency_key=key, request_sha256="0" * 64,
        progress={"stage": "created", "percent": 0, "message": "", "timestamp": now}, created_at=now, updated_at=now,
    )  # fmt: skip


def submit(database: Database, key: str | None = None) -> Job:
    with database.session() as session:
        job, created = job_queue.submit(session, new_job(key))
    assert created
    return job


def claim(database: Database, worker: str = "w1", now: float | None = None, max_attempts: int = 3) -> Job | None:
    with database.session() as session:
        return job_queue.claim(session, worker_id=worker, lease_seconds=LEASE, max_attempts=max_attempts, now=now)


def state(database: Database, job_id: str) -> Job:
    with database.session() as session:
        job = store.get_state(session, job_id)
    assert job is not None
    return job


def test_claims_follow_submission_order(database: Database):
    ids = [submit(database).id for _ in range(6)]
    claimed = [claim(database) for _ in range(6)]
    assert [job.id for job in claimed if job] == ids
    assert claim(database) is None
    first = state(database, ids[0])
    assert first.status == JobStatus.PROCESSING and first.worker_id == "w1" and first.attempts == 1


def test_queue_position_counts_jobs_ahead(database: Database):
    jobs = [submit(database) for _ in range(3)]
    claim(database)
    with database.session() as session:
        assert [store.position(session, job.seq or 0) for job in jobs[1:]] == [1, 2]


def test_concurrent_workers_claim_each_job_exactly_once(database: Database):
    ids = {submit(database).id for _ in range(40)}

    def drain(worker: str) -> list[str]:
        got: list[str] = []
        while (job := claim(database, worker)) is not None:
            got.append(job.id)
        return got

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(drain, [f"w{i}" for i in range(6)]))
    claimed = [job_id for result in results for job_id in result]
    assert sorted(claimed) == sorted(ids)  # every job once, none twice


def test_expired_lease_is_claimed_again_and_the_old_worker_is_locked_out(database: Database):
    job = submit(database)
    start = time.time()
    assert claim(database, "dead", now=start) is not None
    assert claim(database, "other", now=start + LEASE - 1) is None  # lease still valid
    again = claim(database, "other", now=start + LEASE + 1)
    assert again is not None and again.id == job.id and again.attempts == 2 and again.worker_id == "other"
    with database.session() as session:
        assert not job_queue.renew(session, job.id, worker_id="dead", lease_seconds=LEASE)
        assert not job_queue.complete(session, job.id, worker_id="dead", result={"x": 1})
        assert job_queue.renew(session, job.id, worker_id="other", lease_seconds=LEASE)
        assert job_queue.complete(session, job.id, worker_id="other", result={"ok": True})
        full = store.get_full(session, job.id)
    assert full is not None and full.status == JobStatus.COMPLETED and full.result == {"ok": True}


def test_renewed_lease_is_not_claimed(database: Database):
    job = submit(database)
    start = time.time()
    claim(database, "w1", now=start)
    with database.session() as session:
        assert job_queue.renew(session, job.id, worker_id="w1", lease_seconds=LEASE, now=start + LEASE - 1)
    assert claim(database, "w2", now=start + LEASE + 1) is None


def test_attempts_run_out_and_the_job_fails_with_the_reason(database: Database):
    job = submit(database)
    start = time.time()
    assert claim(database, "a", now=start, max_attempts=2) is not None
    assert claim(database, "b", now=start + LEASE + 1, max_attempts=2) is not None
    assert claim(database, "c", now=start + 2 * LEASE + 2, max_attempts=2) is None
    failed = state(database, job.id)
    assert failed.status == JobStatus.FAILED and failed.error_type == "abandoned"
    assert "2 times" in (failed.error or "")


def test_release_puts_the_job_back_in_its_place_without_counting_the_attempt(database: Database):
    first, second = submit(database), submit(database)
    claimed = claim(database, "w1")
    assert claimed is not None and claimed.id == first.id
    with database.session() as session:
        assert job_queue.release(session, first.id, worker_id="w1")
    released = state(database, first.id)
    assert released.status == JobStatus.PENDING and released.attempts == 0 and released.worker_id is None
    again = claim(database, "w2")
    assert again is not None and again.id == first.id and again.attempts == 1
    assert (claim(database, "w2") or first).id == second.id


def test_retry_later_waits_for_its_time_and_counts_the_attempt(database: Database):
    first, second = submit(database), submit(database)
    now = time.time()
    assert (claim(database, "w1", now=now) or second).id == first.id
    with database.session() as session:
        assert job_queue.retry_later(session, first.id, worker_id="w1", not_before=now + 5, reason="down", now=now)
        assert not job_queue.retry_later(session, first.id, worker_id="w1", not_before=now + 5, reason="down", now=now)
    waiting = state(database, first.id)
    assert waiting.status == JobStatus.PENDING and waiting.attempts == 1 and waiting.worker_id is None
    assert waiting.not_before == now + 5 and waiting.error is None
    assert (claim(database, "w1", now=now + 1) or first).id == second.id  # not yet: the next one goes first
    assert claim(database, "w1", now=now + 2) is None
    again = claim(database, "w2", now=now + 5)
    assert again is not None and again.id == first.id and again.attempts == 2 and again.not_before is None


def test_a_retry_after_its_model_died_does_not_count_the_attempt(database: Database):
    job = submit(database)
    now = time.time()
    assert claim(database, "w1", now=now) is not None
    with database.session() as session:
        assert job_queue.retry_later(
            session, job.id, worker_id="w1", not_before=now + 3, reason="model down", count_attempt=False, now=now
        )
    assert state(database, job.id).attempts == 0
    again = claim(database, "w2", now=now + 3)
    assert again is not None and again.id == job.id and again.attempts == 1


def test_idempotency_key_returns_the_same_job(database: Database):
    job = submit(database, key="order-1")
    with database.session() as session:
        again, created = job_queue.submit(session, new_job("order-1"))
    assert not created and again.id == job.id


def test_concurrent_retries_create_one_job(database: Database):
    def attempt(_: int) -> tuple[str, bool]:
        with database.session() as session:
            job, created = job_queue.submit(session, new_job("same-key"))
        return job.id, created

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(16)))
    assert len({job_id for job_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    with database.session() as session:
        assert store.count(session) == 1


def test_cancel_pending_running_and_finished(database: Database):
    pending, running, done = submit(database), submit(database), submit(database)
    claim(database, "w1")  # pending is the first: claim it, then cancel "running" below after claiming
    with database.session() as session:
        job_queue.release(session, pending.id, worker_id="w1")
        cancelled, job = job_queue.cancel(session, pending.id)
        assert cancelled and job is not None and job.status == JobStatus.CANCELLED
        claimed = job_queue.claim(session, worker_id="w1", lease_seconds=LEASE, max_attempts=3)
        assert claimed is not None and claimed.id == running.id
        assert job_queue.cancel(session, running.id)[0]
        assert not store.holds(session, running.id, "w1")  # the worker sees it and stops
        assert not job_queue.complete(session, running.id, worker_id="w1", result={})
        claimed = job_queue.claim(session, worker_id="w1", lease_seconds=LEASE, max_attempts=3)
        assert claimed is not None and claimed.id == done.id
        assert job_queue.fail(session, done.id, worker_id="w1", error="boom", error_type="backend")
        cancelled, job = job_queue.cancel(session, done.id)
        assert not cancelled and job is not None and job.status == JobStatus.FAILED
        assert job_queue.cancel(session, "nope") == (False, None)
    assert state(database, running.id).status == JobStatus.CANCELLED


def test_purge_deletes_only_old_finished_jobs_and_the_list_stays_right(database: Database):
    old, recent, waiting = submit(database), submit(database), submit(database)
    with database.session() as session:
        for job in (old, recent):
            job_queue.claim(session, worker_id="w", lease_seconds=LEASE, max_attempts=3)
            job_queue.complete(session, job.id, worker_id="w", result={"audio_base64": "x"}, now=time.time() - 100)
        job_queue.complete(session, recent.id, worker_id="w", result={}, now=time.time())
        session.exec(  # finished long ago
            Job.__table__.update().where(Job.__table__.c.id == old.id).values(finished_at=time.time() - 7200)
        )
        session.commit()
        assert job_queue.purge(session, older_than=time.time() - 3600) == 1
        jobs, total = store.list_jobs(session, status=None, limit=10, offset=0)
        assert [job.id for job in jobs] == [waiting.id, recent.id] and total == 2
        done, total_done = store.list_jobs(session, status=JobStatus.COMPLETED, limit=1, offset=0)
        assert [job.id for job in done] == [recent.id] and total_done == 1
