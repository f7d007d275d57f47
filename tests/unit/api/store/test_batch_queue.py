"""The batch lane on real SQLite and PostgreSQL: fair shares between keys and between one key's
batches, the global cap of running items, the single-job FIFO kept apart, dead workers' items taken
again first, concurrent claimers never over the cap, counts, cancel, purge."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api.store import batch_queue, batches, job_queue
from api.store.batch_table import Batch, BatchStatus
from api.store.database import Database
from api.store.job_table import Job, JobStatus
from tests.unit.api.store.test_job_queue import claim as claim_single
from tests.unit.api.store.test_job_queue import submit as submit_single

LEASE = 30.0


def add_batch(database: Database, owner: str | None, n: int) -> str:
    now = time.time()
    batch = Batch(id=str(uuid.uuid4()), owner=owner, request_sha256="0" * 64, total=n, created_at=now)
    common = {"job_type": "custom_voice", "status": JobStatus.PENDING, "request_sha256": "0" * 64, "attempts": 0,
              "version": 1, "created_at": now, "updated_at": now, "owner": owner, "batch_id": batch.id}  # fmt: skip
    rows: list[dict[str, Any]] = [
        {**common, "id": str(uuid.uuid4()), "request_data": {"text": f"item {i}", "speaker": "Ryan"},
         "progress": {"stage": "queued"}, "custom_id": f"c{i}", "item_index": i, "file_name": f"c{i}.wav"}
        for i in range(n)
    ]  # fmt: skip
    with database.session() as session:
        created, ok = batches.create(session, batch, rows)
    assert ok
    return created.id


def claim(database: Database, worker: str = "w1", max_running: int = 100, now: float | None = None) -> Job | None:
    with database.session() as session:
        return batch_queue.claim_item(
            session, worker_id=worker, lease_seconds=LEASE, max_attempts=3, max_running=max_running, now=now
        )


def complete(database: Database, job: Job, worker: str = "w1") -> None:
    with database.session() as session:
        assert job_queue.complete(session, job.id, worker_id=worker, result={"duration_seconds": 1.5})


def test_the_choice_is_max_min_fair() -> None:
    running = {("a", "A1"): 3, ("b", "B1"): 1}
    waiting = {("a", "A1"): 10, ("b", "B1"): 20, ("c", "C1"): 30}
    assert batch_queue.choose(running, waiting) == "C1"  # c runs nothing
    assert batch_queue.choose(running, {("a", "A1"): 10, ("b", "B1"): 20}) == "B1"
    # within one key: its batch with fewer running, then the older
    assert batch_queue.choose({("a", "A1"): 2}, {("a", "A1"): 1, ("a", "A2"): 50}) == "A2"
    assert batch_queue.choose({}, {("a", "A1"): 1, ("a", "A2"): 50}) == "A1"
    assert batch_queue.choose({}, {}) is None


def test_a_big_batch_shares_the_running_slots_with_a_small_one(database: Database) -> None:
    big = add_batch(database, "qk_aaaaaaaa", 50)
    small = add_batch(database, "qk_bbbbbbbb", 5)
    claimed = [claim(database, max_running=10) for _ in range(11)]
    assert claimed[-1] is None, "the cap of running items holds"
    taken = Counter(job.batch_id for job in claimed if job)
    assert taken == {big: 5, small: 5}
    assert [job.item_index for job in claimed if job and job.batch_id == big] == [0, 1, 2, 3, 4]  # in order


def test_single_jobs_and_batch_items_are_separate_lanes(database: Database) -> None:
    add_batch(database, None, 20)
    single = submit_single(database)
    first = claim_single(database)
    assert first is not None and first.id == single.id, "a single job is not behind 20 batch items"
    assert claim_single(database) is None, "the FIFO never takes a batch item"
    item = claim(database)
    assert item is not None and item.batch_id is not None


def test_a_dead_workers_item_is_taken_again_first(database: Database) -> None:
    add_batch(database, None, 3)
    lost = claim(database, worker="dead")
    assert lost is not None
    again = claim(database, worker="w2", now=time.time() + LEASE + 1)
    assert again is not None and again.id == lost.id and again.attempts == 2


def test_concurrent_claimers_never_pass_the_cap(database: Database) -> None:
    add_batch(database, "qk_aaaaaaaa", 30)
    add_batch(database, "qk_bbbbbbbb", 30)
    with ThreadPoolExecutor(8) as pool:
        claimed = list(pool.map(lambda i: claim(database, worker=f"w{i}", max_running=7), range(20)))
    won = [job for job in claimed if job]
    assert len(won) == 7 and len({job.id for job in won}) == 7


def test_counts_status_cancel_and_purge(database: Database) -> None:
    batch_id = add_batch(database, None, 4)
    with database.session() as session:
        batch = batches.get(session, batch_id)
    assert batch is not None
    first = claim(database)
    assert first is not None
    complete(database, first)
    with database.session() as session:
        counts = batches.counts(session, [batch_id])[batch_id]
    assert counts.by_status == {JobStatus.COMPLETED: 1, JobStatus.PENDING: 3} and counts.audio_seconds == 1.5
    assert counts.status_of(batch) == BatchStatus.PROCESSING
    with database.session() as session:
        assert batches.cancel(session, batch_id, now=time.time())
        assert not batches.cancel(session, batch_id, now=time.time())
        batch = batches.get(session, batch_id)
        counts = batches.counts(session, [batch_id])[batch_id]
        assert batch is not None and counts.status_of(batch) == BatchStatus.CANCELLED
        assert counts.by_status == {JobStatus.COMPLETED: 1, JobStatus.CANCELLED: 3}
        assert job_queue.purge(session, older_than=time.time() + 10) == 0, "items go with their batch"
        assert batches.purge(session, older_than=time.time() + 10) == 1
        assert batches.get(session, batch_id) is None and batches.items(session, batch_id) == []


def test_an_unfinished_batch_is_never_purged(database: Database) -> None:
    batch_id = add_batch(database, None, 2)
    item = claim(database)
    assert item is not None
    complete(database, item)
    with database.session() as session:
        assert batches.purge(session, older_than=time.time() + 10) == 0
        assert len(batches.items(session, batch_id)) == 2


def claim_many(database: Database, limit: int, worker: str = "w1", max_running: int = 100,
               now: float | None = None) -> list[Job]:  # fmt: skip
    with database.session() as session:
        return batch_queue.claim_items(session, worker_id=worker, lease_seconds=LEASE, max_attempts=3,
                                       max_running=max_running, limit=limit, now=now)  # fmt: skip


def test_one_claim_of_many_items_takes_what_claims_of_one_would_in_their_order(database: Database) -> None:
    add_batch(database, "qk_aaaaaaaa", 30)
    add_batch(database, "qk_aaaaaaaa", 3)  # the key's second batch
    add_batch(database, "qk_bbbbbbbb", 4)
    add_batch(database, None, 2)
    one_by_one = [claim(database, max_running=12) for _ in range(13)]
    assert one_by_one[-1] is None
    taken = [job for job in one_by_one if job]
    with database.session() as session:  # back to the queue, in their place, the attempt uncounted
        assert all(job_queue.release(session, job.id, worker_id="w1") for job in taken)
    many = claim_many(database, limit=20, max_running=12)
    assert [(job.batch_id, job.item_index) for job in many] == [(job.batch_id, job.item_index) for job in taken]
    assert all(job.status == JobStatus.PROCESSING and job.worker_id == "w1" and job.attempts == 1 for job in many)
    assert claim_many(database, limit=5, max_running=12) == [], "the cap holds"


def test_a_claim_of_many_takes_dead_workers_items_first_then_the_next_ones(database: Database) -> None:
    add_batch(database, None, 5)
    lost = claim_many(database, limit=2, worker="dead")
    again = claim_many(database, limit=4, worker="w2", now=time.time() + LEASE + 1)
    assert [job.id for job in again[:2]] == [job.id for job in lost]
    assert [job.attempts for job in again] == [2, 2, 1, 1]
    assert [job.item_index for job in again[2:]] == [2, 3]


def test_concurrent_claims_of_many_run_every_item_once_under_the_cap(database: Database) -> None:
    add_batch(database, "qk_aaaaaaaa", 30)
    add_batch(database, "qk_bbbbbbbb", 30)
    claimed: list[str] = []
    held, most, lock = 0, 0, threading.Lock()

    def work(worker: str) -> None:
        nonlocal held, most
        while jobs := claim_many(database, limit=3, worker=worker, max_running=7):
            with lock:  # counted after the claim, uncounted before the completion: never above the truth
                held += len(jobs)
                most = max(most, held)
                claimed.extend(job.id for job in jobs)
            for job in jobs:
                with lock:
                    held -= 1
                complete(database, job, worker)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, ["w1", "w2", "w3", "w4"]))
    assert len(claimed) == 60 and len(set(claimed)) == 60
    assert 3 <= most <= 7
