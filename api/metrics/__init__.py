"""Prometheus metrics of the API: the families and the helpers that record them. How they are
served (the `/metrics` route, a port of their own, multiprocess mode, the HTTP middleware) is
api/metrics/serving.py.

Names follow Prometheus conventions: prefix `qwen_tts_`, base units (seconds), `_total` on
counters. Labels are bounded: `route` is the route template (`/api/v1/cloned-voices/{voice_id}`),
never the raw path; requests that match no route are labelled `route="<unmatched>"`; unknown HTTP
methods become `method="OTHER"`.

    qwen_tts_http_requests_total{route,method,status}             counter
    qwen_tts_http_request_duration_seconds{route,method}          histogram
    qwen_tts_inflight_requests                                     gauge (HTTP requests in progress)
    qwen_tts_triton_request_duration_seconds{model,outcome}       histogram (one inference call)
    qwen_tts_audio_generated_seconds_total{model}                 counter (seconds of speech made)
    qwen_tts_audio_encoding_duration_seconds{format}              histogram (wav/mp3/ogg/opus encoding)
    qwen_tts_triton_ready                                          gauge (1/0: Triton ready at the last health check)
    qwen_tts_jobs{state}                                           gauge (jobs in the database by state)
    qwen_tts_jobs_queue_depth                                      gauge (pending jobs in the database)
    qwen_tts_batch_items_pending                                   gauge (pending batch items, of those)
    qwen_tts_job_queue_wait_seconds{job_type}                      histogram (submission to claim)
    qwen_tts_job_duration_seconds{job_type,outcome}                histogram (claim to end of the attempt)
    qwen_tts_job_retries_total{job_type}                           counter (re-claims: lost lease, Triton retry)
    qwen_tts_cloned_voices                                         gauge (voices in the voice store)
    qwen_tts_time_to_first_byte_seconds{format}                    histogram (/v1/audio/speech: to first audio byte)
    qwen_tts_audio_streamed_seconds_total{model}                   counter (seconds of speech sent while generated)

Several uvicorn workers (`--workers N`): each worker is a process with its own counters, and a
scrape reaches one of them. Set `PROMETHEUS_MULTIPROC_DIR` to an empty directory (tmpfs or
emptyDir), cleared at every start of the server, and prometheus_client's multiprocess mode writes
every worker's values there and `/metrics` adds them up. The variable is read when
prometheus_client is first imported, so it must be in the environment of the server process
(docker-compose and the Helm chart set it; `docker/api-entrypoint.sh` clears the directory).
Without it a plain in-process registry is used (one worker, tests).

The job and voice store gauges (`qwen_tts_jobs`, `qwen_tts_jobs_queue_depth`,
`qwen_tts_cloned_voices`) are the DATABASE's numbers, not the process's: every job worker loop reads
them from the shared database every `job_metrics_interval_seconds` (api/jobs/worker.py). Every
worker process and every replica therefore reports the same value: aggregate them with `max`
(never `sum`). In multiprocess mode they use `livemostrecent`, so a scrape shows the newest reading
of the live workers instead of their sum. A process without a job worker (`job_workers_enabled`
false) does not export them; dedicated worker processes (`python -m api.jobs.worker`) serve their
metrics on `worker_metrics_port`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from prometheus_client import Counter, Gauge, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED_ROUTE = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Outcomes of one Triton call (label `outcome`): success; rejected = the model refused the request
# (invalid input, 4xx); unavailable = Triton or the model is down, not loaded, overloaded or late
# (503); cancelled = the client went away; error = anything else (backend failure, 5xx).
OUTCOMES = ("success", "rejected", "unavailable", "cancelled", "error")

# Buckets, in seconds. HTTP: health and info routes answer in milliseconds, synthesis takes from
# about 0.1 s (a short sentence on a GPU) to minutes (long text, CPU, max_new_tokens 4096).
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# One Triton inference: queue + batch + generation; never sub-10 ms, up to the 600 s call deadline.
TRITON_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# Encoding: wav is ~0.04 ms per second of audio, ogg/opus ~30 ms/s plus ~0.1 s to start ffmpeg.
ENCODING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Job queue wait: an idle worker claims within a poll (0.25 s) or at once when woken; a backlog of
# thousands of jobs waits minutes to hours (results are kept an hour by default).
JOB_WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
# One job attempt: one or two Triton calls (a clone builds its prompt first) plus encoding: Triton's
# buckets, up to a few 600 s call deadlines.
JOB_DURATION_BUCKETS = (*TRITON_BUCKETS, 1200.0, 1800.0)
# First audio byte of a streamed answer: a first chunk takes 0.1 s on an idle CPU, seconds when busy.
FIRST_BYTE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
# Label `outcome` of qwen_tts_job_duration_seconds: how an attempt ended.
JOB_OUTCOMES = ("completed", "failed", "cancelled", "retried")  # retried: Triton unavailable, back to the queue
# Label `state` of qwen_tts_jobs (api/store/job_table.py JobStatus.ALL).
JOB_STATES = ("pending", "processing", "completed", "failed", "cancelled")

HTTP_REQUESTS = Counter(
    "qwen_tts_http_requests_total",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "qwen_tts_http_request_duration_seconds",
    "Time from receiving an HTTP request to the end of its response, by route template and method.",
    ["route", "method"],
    buckets=HTTP_BUCKETS,
)
INFLIGHT = Gauge(
    "qwen_tts_inflight_requests",
    "HTTP requests being handled now (all workers together).",
    multiprocess_mode="livesum",
)
TRITON_DURATION = Histogram(
    "qwen_tts_triton_request_duration_seconds",
    "Duration of one inference call to Triton as the API sees it, by Triton model and outcome.",
    ["model", "outcome"],
    buckets=TRITON_BUCKETS,
)
AUDIO_GENERATED = Counter(
    "qwen_tts_audio_generated_seconds_total",
    "Seconds of audio synthesized and returned, by Triton model.",
    ["model"],
)
ENCODING_DURATION = Histogram(
    "qwen_tts_audio_encoding_duration_seconds",
    "Time spent encoding generated audio to the output format, by format.",
    ["format"],
    buckets=ENCODING_BUCKETS,
)

TRITON_READY = Gauge(
    "qwen_tts_triton_ready",
    "1 when the last health check found Triton ready, 0 when not (updated by GET /api/v1/health).",
    multiprocess_mode="livemostrecent",
)

JOBS = Gauge(
    "qwen_tts_jobs",
    "Jobs in the database by state (the shared database's count, read periodically by the job workers: "
    "aggregate replicas with max, not sum).",
    ["state"],
    multiprocess_mode="livemostrecent",
)
JOBS_QUEUE_DEPTH = Gauge(
    "qwen_tts_jobs_queue_depth",
    "Pending jobs waiting to be claimed (the shared database's count, read periodically by the job workers: "
    "aggregate replicas with max, not sum).",
    multiprocess_mode="livemostrecent",
)
BATCH_ITEMS_PENDING = Gauge(
    "qwen_tts_batch_items_pending",
    "Pending batch items (included in qwen_tts_jobs_queue_depth; the shared database's count: aggregate "
    "replicas with max, not sum).",
    multiprocess_mode="livemostrecent",
)
JOB_QUEUE_WAIT = Histogram(
    "qwen_tts_job_queue_wait_seconds",
    "Time from a job's submission to its claim by a worker, by job type (re-claims after a lost lease excluded).",
    ["job_type"],
    buckets=JOB_WAIT_BUCKETS,
)
JOB_DURATION = Histogram(
    "qwen_tts_job_duration_seconds",
    "Time from a job's claim to the end of that attempt, by job type and outcome (completed, failed, cancelled).",
    ["job_type", "outcome"],
    buckets=JOB_DURATION_BUCKETS,
)
JOB_RETRIES = Counter(
    "qwen_tts_job_retries_total",
    "Jobs claimed again after their worker's lease expired (worker died or lost the database), by job type.",
    ["job_type"],
)
CLONED_VOICES = Gauge(
    "qwen_tts_cloned_voices",
    "Cloned voices in the voice store (the shared database's count, read periodically by the job workers: "
    "aggregate replicas with max, not sum).",
    multiprocess_mode="livemostrecent",
)

FIRST_BYTE = Histogram(
    "qwen_tts_time_to_first_byte_seconds",
    "Time from receiving a streamed speech request (/v1/audio/speech) to sending its first audio byte, by format.",
    ["format"],
    buckets=FIRST_BYTE_BUCKETS,
)
AUDIO_STREAMED = Counter(
    "qwen_tts_audio_streamed_seconds_total",
    "Seconds of audio sent to clients while being generated (/v1/audio/speech), by Triton model.",
    ["model"],
)

METRIC_NAMES = frozenset(
    {
        "qwen_tts_http_requests_total",
        "qwen_tts_http_request_duration_seconds",
        "qwen_tts_inflight_requests",
        "qwen_tts_triton_request_duration_seconds",
        "qwen_tts_audio_generated_seconds_total",
        "qwen_tts_audio_encoding_duration_seconds",
        "qwen_tts_triton_ready",
        "qwen_tts_jobs",
        "qwen_tts_jobs_queue_depth",
        "qwen_tts_batch_items_pending",
        "qwen_tts_job_queue_wait_seconds",
        "qwen_tts_job_duration_seconds",
        "qwen_tts_job_retries_total",
        "qwen_tts_cloned_voices",
        "qwen_tts_time_to_first_byte_seconds",
        "qwen_tts_audio_streamed_seconds_total",
    }
)
"""Every metric family this module defines (the deploy tests check dashboards and alerts against it)."""


def observe_triton(model: str, outcome: str, seconds: float) -> None:
    """One inference call to Triton: `outcome` is one of OUTCOMES (others are recorded as error)."""
    TRITON_DURATION.labels(model=model, outcome=outcome if outcome in OUTCOMES else "error").observe(seconds)


def observe_audio(model: str, seconds: float) -> None:
    """Seconds of audio one request produced (samples / sample rate)."""
    if seconds > 0:
        AUDIO_GENERATED.labels(model=model).inc(seconds)


def observe_encoding(fmt: str, seconds: float) -> None:
    """Time spent encoding one response to `fmt` (wav, mp3, ogg, opus)."""
    ENCODING_DURATION.labels(format=str(fmt)).observe(seconds)


def observe_first_byte(fmt: str, seconds: float) -> None:
    """A streamed answer sent its first audio byte `seconds` after its request arrived."""
    FIRST_BYTE.labels(format=str(fmt)).observe(max(seconds, 0.0))


def observe_streamed(model: str, seconds: float) -> None:
    """Seconds of audio of one chunk sent while the rest is generated."""
    if seconds > 0:
        AUDIO_STREAMED.labels(model=model).inc(seconds)


def observe_triton_ready(ready: bool) -> None:
    """Result of a health check of Triton (the readiness probe calls it every few seconds)."""
    TRITON_READY.set(1 if ready else 0)


def observe_job_claim(job_type: str, *, waited_seconds: float, retry: bool) -> None:
    """A worker claimed a job: a re-claim after a lost lease counts as a retry, a claim of a pending
    job records how long it waited since its submission."""
    if retry:
        JOB_RETRIES.labels(job_type=job_type).inc()
    else:
        JOB_QUEUE_WAIT.labels(job_type=job_type).observe(max(waited_seconds, 0.0))


def observe_job_end(job_type: str, outcome: str, seconds: float) -> None:
    """An attempt of a job ended (claim to end): `outcome` is one of JOB_OUTCOMES."""
    if outcome not in JOB_OUTCOMES:
        raise ValueError(f"unknown job outcome {outcome!r}")
    JOB_DURATION.labels(job_type=job_type, outcome=outcome).observe(max(seconds, 0.0))


def set_store_gauges(job_counts: Mapping[str, int], cloned_voices: int, *, pending_batch_items: int = 0) -> None:
    """The database's job counts by state (every state of `JOB_STATES`; absent ones are 0), pending
    batch items and the voice store's size, as read by a job worker's periodic tick."""
    for state in JOB_STATES:
        JOBS.labels(state=state).set(job_counts.get(state, 0))
    JOBS_QUEUE_DEPTH.set(job_counts.get("pending", 0))
    CLONED_VOICES.set(cloned_voices)
    BATCH_ITEMS_PENDING.set(pending_batch_items)


def triton_outcome(exc: BaseException | None) -> str:
    """The `outcome` label for a Triton call that raised `exc` (None: it succeeded).

    Works on the API's error taxonomy by its HTTP status (`status_code`), so it needs no import
    of it: 4xx = rejected, 429/503 = unavailable, anything else = error."""
    if exc is None:
        return "success"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    status = getattr(exc, "status_code", None)
    if status in (429, 503, 504):
        return "unavailable"
    if isinstance(status, int) and 400 <= status < 500:
        return "rejected"
    return "error"


@contextmanager
def track_triton(model: str) -> Iterator[None]:
    """Time the enclosed Triton call and record it with its outcome; exceptions propagate."""
    started = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        observe_triton(model, triton_outcome(exc), time.perf_counter() - started)
        raise
    observe_triton(model, "success", time.perf_counter() - started)
