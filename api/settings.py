"""All API settings: each one an environment variable (prefix `QWEN_TTS_`), documented here."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tts_contract import limits

_MAX_FRAMES = int(limits.MAX_NEW_TOKENS.high)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="QWEN_TTS_", env_file=None, extra="ignore")

    triton_url: str = "127.0.0.1:8001"
    """Triton gRPC endpoint, host:port (env QWEN_TTS_TRITON_URL)."""

    triton_timeout_seconds: float = Field(default=600.0, gt=0)
    """Deadline of one inference call to Triton; a long text at max_new_tokens takes minutes on CPU."""

    triton_connect_timeout_seconds: float = Field(default=3.0, gt=0)
    """Deadline of health and metadata calls: an unreachable Triton answers 503 within this."""

    default_model_size: str = Field(default="1.7B", pattern=r"^(0\.6B|1\.7B)$")
    """Model size used when a request does not name one (the contract's default is 1.7B)."""

    load_models_on_demand: bool = False
    """When a requested model is not loaded: False answers 503 naming it; True asks Triton
    (explicit model control) to load it and waits. Off by default: loading a 1.7B model takes
    tens of seconds and GPU memory that a resident model may need."""

    model_load_timeout_seconds: float = Field(default=300.0, gt=0)
    """How long an on-demand load may take before the request gets 503."""

    model_healing_enabled: bool = True
    """Watch the models' backends and heal a dead one (api/healing): a Python-backend stub process that
    died (OOM killer, CUDA fault) leaves its model READY in Triton while every call fails. Found by a
    call failing that way or by the periodic probe, the model is reported (`/health` answers
    `degraded` naming it, its requests 503 naming it with Retry-After, jobs on it go back to the
    queue) and reloaded through Triton's model control (unload, then load)."""

    model_probe_interval_seconds: float = Field(default=10.0, gt=0)
    """How often each loaded model gets a health probe (answered by the model at once, nothing
    generated; it counts as one request in Triton's statistics). A call that fails the way a dead
    backend does triggers a probe at once; this interval also bounds how long a call in flight on a
    model that died waits before it is answered 503."""

    model_probe_timeout_seconds: float = Field(default=5.0, gt=0)
    """Deadline of one probe. Three probes in a row without an answer count as a dead backend."""

    model_reload_backoff_seconds: float = Field(default=10.0, gt=0)
    """A model that dies again within model_reload_backoff_max_seconds of its reload waits this long
    before the next reload, doubled on each further death (capped); it stays reported meanwhile."""

    model_reload_backoff_max_seconds: float = Field(default=300.0, gt=0)
    """Longest wait between reloads of a model that keeps dying; a model that has served this long
    since its last reload starts again from an immediate reload."""

    sync_request_timeout_seconds: float = Field(default=300.0, gt=0)
    """Longest a synchronous request (POST /api/v1/tts/*) may take; past it the client gets 503 and its
    generation is cancelled (its row leaves the engine's batch). A client that disconnects cancels its
    generation the same way. Use jobs for longer work."""

    log_format: str = Field(default="json", pattern=r"^(json|text)$")
    """API and worker logs: `json` (one object per line: time, level, logger, message, request_id) or
    `text`. Every line written for a request or job carries its X-Request-ID."""

    max_inflight_requests: int = Field(default=64, ge=1)
    """Synchronous TTS requests in flight at once (all routes together); beyond it 429."""

    max_inflight_requests_per_key: int = Field(default=16, ge=1)
    """Synchronous TTS requests in flight at once for one API key (with auth_enabled); beyond it 429.
    Counted per API process (per replica and uvicorn worker), like max_inflight_requests."""

    auth_enabled: bool = False
    """Require an API key (`Authorization: Bearer <key>` or `X-API-Key: <key>`) on every route but
    /api/v1/health, /api/v1/health/live, /metrics and the OpenAPI documentation; each cloned voice and
    job then belongs to the key that created it. Keys: `python -m api.keys create|list|revoke`. Off
    by default for local use; the Helm chart turns it on."""

    admin_api_key: SecretStr | None = None
    """A bootstrap admin key taken from the environment (e.g. a Kubernetes Secret), accepted besides
    the keys in the database when auth_enabled: it sees every voice and job. At least 32 characters
    (`openssl rand -hex 32`). Unset: only database keys."""

    max_text_chars: int = Field(default=20_000, ge=1, le=1_000_000)
    """Longest `text` of a synchronous request (the /tts/* endpoints), in characters after NFC
    normalisation; beyond it 422 naming the limit. A text longer than segment_max_chars is split into
    segments generated concurrently (api/services/longform.py); use a job for longer texts."""

    job_max_text_chars: int = Field(default=200_000, ge=1, le=10_000_000)
    """Longest `text` of a job or batch item, in characters (422 naming the limit at submission)."""

    segment_max_chars: int = Field(default=300, ge=20, le=limits.MAX_TEXT_CHARS)
    """Budget of one segment of a long text, in units: a character counts 1, a CJK (wide) one 3, so
    300 is about 20 s of speech in any language. Text within it is one row, untouched; longer text is
    split at sentences, then clauses (api/text/). At most the wire contract's limit of one row."""

    segment_concurrency: int = Field(default=16, ge=1, le=256)
    """Segments of one request generated at once (each a row of the continuous batch). Bounds how many
    of the engine's rows (QWEN_TTS_MAX_BATCH_ROWS, 32) one long text can hold."""

    segment_pause_seconds: float = Field(default=0.3, ge=0, le=5)
    """Silence inserted between two segments of a long text."""

    segment_fade_seconds: float = Field(default=0.01, ge=0, le=0.5)
    """Fade-out and fade-in at each segment's edges (no change of length): no click at the cut."""

    max_new_tokens_limit: int = Field(default=_MAX_FRAMES, ge=2, le=_MAX_FRAMES)
    """Largest accepted `max_new_tokens` (codec frames, 80 ms each)."""

    default_max_new_tokens: int = Field(default=2048, ge=2, le=_MAX_FRAMES)
    """`max_new_tokens` when a request gives none: bounds a row that never emits EOS (about 164 s)."""

    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    """Largest reference audio accepted, uploaded or fetched (the contract says 10 MB)."""

    max_request_bytes: int = Field(default=0, ge=0)
    """Largest request body, in bytes: a larger declared Content-Length is a 413 before anything is
    read, a chunked body a 413 the moment it passes the limit (api/body_limit.py). 0: derived from
    max_upload_bytes, room for the largest reference base64-encoded in JSON plus 1 MiB of fields."""

    ref_audio_min_seconds: float = Field(default=1.0, ge=0.5)
    """Shortest reference audio accepted for cloning (422 below it). The contract recommends 3 to
    10 s; under about a second the speaker embedding is unreliable. At least the engine's 0.5 s."""

    ref_audio_max_seconds: float = Field(default=30.0, gt=0, le=60)
    """Longest reference audio accepted (413 past it; decoding stops there). The reference's speech
    codes are part of every generation's prompt, so a long one makes each generation slower, and
    past 10-20 s it adds nothing to the likeness. At most the engine's 60 s."""

    ref_audio_min_sample_rate: int = Field(default=8000, ge=1000)
    """Lowest sample rate of a reference accepted (422 below it): 8 kHz is telephone speech; less
    loses the voice. Any rate up to 192 kHz is resampled to the model's 24 kHz, stereo downmixed."""

    fetch_timeout_seconds: float = Field(default=15.0, gt=0)
    """Connect and read timeout when fetching `ref_audio_url`."""

    fetch_allowed_hosts: list[str] = []
    """Trusted internal hosts or CIDRs that `ref_audio_url` may be fetched from despite the SSRF
    guard, which otherwise refuses any host resolving to a loopback, private, link-local (cloud
    metadata), CGNAT, multicast or reserved address (JSON list, e.g. `["minio.internal",
    "10.0.5.0/24"]`). A name matches the URL's host exactly; an address or CIDR matches what it
    resolves to. Empty by default: nothing internal is fetched."""

    cors_origins: list[str] = []
    """Origins allowed by CORS (JSON list). Empty: no CORS headers. Browsers send API keys as a header
    the page sets, so credentials (cookies) are not needed for that."""

    playground_enabled: bool = True
    """Serve the playground page at / and /playground/ (static files; open without a key, every API
    call it makes sends the key its user types). False: no page, / is a 404."""

    cors_allow_credentials: bool = False
    """Let CORS requests carry credentials (cookies, HTTP auth). Refused at start-up together with a
    wildcard origin ("*"): any site could then act with a visitor's credentials."""

    data_dir: Path = Path("var")
    """Folder for local state (created at start-up): the default SQLite database lives here."""

    database_url: str = ""
    """SQLAlchemy URL of the voice store. Empty: SQLite file `<data_dir>/qwen_tts.db`. For several
    replicas use PostgreSQL: `postgresql+psycopg://user:password@host:5432/dbname`."""

    database_timeout_seconds: float = Field(default=10.0, gt=0)
    """How long a database call waits: PostgreSQL connect timeout, connection-pool wait, and the
    SQLite busy timeout (concurrent writers queue this long for the write lock before 503)."""

    database_pool_size: int = Field(default=10, ge=1)
    """Connections kept open to PostgreSQL per API process (as many again may open under load)."""

    job_workers_enabled: bool = True
    """Run the job worker loop in this API process. False: this replica only accepts and serves
    jobs, and dedicated worker replicas (`python -m api.jobs.worker`) run them from the same database."""

    job_concurrency: int = Field(default=1, ge=1, le=256)
    """Jobs one worker runs at once (the contract's default is 1: strict FIFO, one at a time). More
    lets Triton's dynamic batcher put several jobs into one generation call (several times the
    throughput on a GPU), at the cost of FIFO completion order (jobs still START in FIFO order),
    more GPU memory per batch, and a slower individual job while it shares a batch. Across replicas
    the total is replicas x job_concurrency."""

    job_poll_interval_seconds: float = Field(default=0.25, gt=0, le=10)
    """How often an idle worker looks for pending jobs (a submission to the same process wakes it at
    once), a running job is checked for cancellation, and an SSE stream re-reads its job row."""

    job_lease_seconds: float = Field(default=30.0, gt=0)
    """A claimed job's lease, renewed every third of it while it runs. A worker that dies (SIGKILL,
    lost host) leaves its job to be claimed again by another once the lease expires."""

    job_max_attempts: int = Field(default=3, ge=1)
    """Claims a job gets before an expired lease fails it ("abandoned"), and tries it gets while the
    inference server is unavailable before it fails ("unavailable"): bounds a job that kills its
    worker every time. A graceful shutdown's release does not count as an attempt."""

    job_retry_backoff_seconds: float = Field(default=2.0, gt=0)
    """A job whose Triton call finds the inference server unavailable (down, restarting, model not
    loaded, overloaded) goes back to the queue and is retried after this delay, doubled on each
    further attempt (capped by job_retry_backoff_max_seconds); the attempt counts towards
    job_max_attempts, after which the job fails with error_type "unavailable"."""

    job_retry_backoff_max_seconds: float = Field(default=60.0, gt=0)
    """Longest delay before a job's retry after the inference server was unavailable."""

    job_result_ttl_seconds: float = Field(default=3600.0, gt=0)
    """How long a finished job (and its result audio) is kept; then the worker purges it."""

    job_purge_interval_seconds: float = Field(default=60.0, gt=0)
    """How often each worker deletes finished jobs older than job_result_ttl_seconds."""

    job_metrics_interval_seconds: float = Field(default=15.0, gt=0)
    """How often each job worker reads the queue's counts by state and the voice store's size from
    the database for the gauges `qwen_tts_jobs`, `qwen_tts_jobs_queue_depth` and
    `qwen_tts_cloned_voices` (two cheap COUNT queries). About the scrape interval; every worker
    reports the same database's numbers."""

    metrics_port: int = Field(default=0, ge=0, le=65535)
    """Serve the API's Prometheus metrics on this port (any path) instead of /metrics on the API's own
    port, e.g. to keep them off a public ingress. 0: /metrics on the API port (open without an API
    key). With several uvicorn workers one of them serves the port, with every worker's values."""

    worker_metrics_port: int = Field(default=0, ge=0, le=65535)
    """Dedicated worker processes (`python -m api.jobs.worker`) only: serve their Prometheus metrics
    (job histograms and gauges) on this port. 0: none (the API serves its own on /metrics)."""

    job_shutdown_timeout_seconds: float = Field(default=20.0, ge=0)
    """On shutdown, how long running jobs may take to finish; the rest go back to the queue."""

    job_heartbeat_seconds: float = Field(default=1.0, gt=0)
    """Interval of `heartbeat` events on a job's SSE stream (the contract says every second)."""

    job_max_pending: int = Field(default=10000, ge=1)
    """Pending single jobs accepted in the queue (all replicas together); beyond it POST /jobs answers
    429. Batch items are counted apart (batch_max_pending_items)."""

    job_max_pending_per_key: int = Field(default=1000, ge=1)
    """Pending single jobs of one API key (with auth_enabled; all replicas together, counted in the
    database); beyond it POST /jobs answers 429 for that key."""

    batch_max_items: int = Field(default=10_000, ge=1, le=100_000)
    """Items of one batch (POST /batches); beyond it 413 naming the limit."""

    batch_max_pending_items: int = Field(default=100_000, ge=1)
    """Pending batch items accepted in the queue (all replicas, all keys); a batch that would pass it
    is refused whole with 429. Single jobs are counted apart (job_max_pending)."""

    batch_max_pending_items_per_key: int = Field(default=20_000, ge=1)
    """Pending batch items of one API key (with auth_enabled); beyond it 429 for that key."""

    batch_concurrency: int = Field(default=24, ge=0, le=1024)
    """Batch items one worker runs at once, besides its job_concurrency single jobs (a lane of its own:
    a batch never delays a single job's start). 0: this worker runs no batch items."""

    batch_max_running_items: int = Field(default=24, ge=1)
    """Batch items running at once across every worker and replica (counted in the database at each
    claim). Keep it below the engine's rows (QWEN_TTS_MAX_BATCH_ROWS, 32, times Triton replicas) so
    synchronous requests and single jobs always find a free row; the slots are shared fairly between
    API keys (api/store/batch_queue.py). A batch item's long text runs its segments one at a time."""

    @model_validator(mode="after")
    def _reference_bounds(self) -> Settings:
        if self.ref_audio_min_seconds > self.ref_audio_max_seconds:
            raise ValueError("ref_audio_min_seconds must not exceed ref_audio_max_seconds")
        return self

    @model_validator(mode="after")
    def _default_database(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'qwen_tts.db'}"
        return self

    @field_validator("admin_api_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _safe_access(self) -> Settings:
        if self.cors_allow_credentials and "*" in self.cors_origins:
            raise ValueError("cors_allow_credentials cannot be used with a wildcard origin '*': list the origins")
        if self.admin_api_key is not None and len(self.admin_api_key.get_secret_value()) < 32:
            raise ValueError("admin_api_key must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
