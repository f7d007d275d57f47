"""The healer: a task in each API (and dedicated worker) process that finds a model whose backend
died and reloads it through Triton's model control.

Why in the API: it sees the failing calls first, already holds the gRPC channel and answers the
readiness probe, so nothing else needs deploying and the chart works as it is. A Python-backend
model whose stub process was killed stays READY in Triton while every call fails ("Stub process
... is not healthy") and calls that were in flight are never answered; a plain `load` of it does
nothing, `unload` then `load` starts a new stub.

Each round (every `model_probe_interval_seconds`, or at once when a call fails the way a dead
backend does) probes every READY model: PROBE requests are answered by the model's `execute()`
without generating. A dead answer (or three probes in a row without one) reports the model down
(api/inference/model_health.py: `/health` degraded, its calls 503 with Retry-After, calls in flight
aborted so jobs go back to the queue) and reloads it. Several replicas: the reload runs under a
cross-replica lock (PostgreSQL advisory lock, api/store/locks.py) and only if the model is still
dead once the lock is held, so one replica reloads and the others see it come back. A model that
dies again within `model_reload_backoff_max_seconds` of its reload waits `model_reload_backoff_seconds`,
doubled per death, before the next reload, and stays reported down meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass

import anyio

from api.errors import ModelDownError, UnavailableError
from api.healing import metrics
from api.inference.client import TritonGateway
from api.inference.model_health import DownState
from api.settings import Settings
from api.store import locks
from api.store.database import Database
from tts_contract.models import tts_model_names

log = logging.getLogger(__name__)
RELOAD_JITTER_SECONDS = 1.0
NO_ANSWER_LIMIT = 3
"""Probes in a row without an answer that count as a dead backend (a hung stub)."""


@dataclass
class _Record:
    deaths: int = 0
    """Deaths since the model last served for model_reload_backoff_max_seconds (sets the backoff)."""
    up_since: float = 0.0
    no_answer: int = 0
    served: bool = False
    """Seen READY: a later LOADING/UNLOADING is a reload, not the first load."""


class Healer:
    def __init__(self, *, triton: TritonGateway, database: Database | None, settings: Settings):
        self.triton, self.database, self.settings = triton, database, settings
        self.health = triton.models
        self._records: dict[str, _Record] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="model-healer")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:  # the healer must outlive anything one round does
                log.exception("model healer round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.health.wake.wait(), self._next_wait())

    def _next_wait(self) -> float:
        wait = self.settings.model_probe_interval_seconds
        for down in self.health.down.values():
            wait = min(wait, max(0.05, down.retry_at - time.monotonic()))
        return wait

    async def round(self) -> None:
        """Look at every TTS model in Triton's index: probe the READY ones, heal the dead."""
        self.health.wake.clear()
        try:
            states = await self.triton.model_states()
        except UnavailableError:
            return  # Triton itself is down or restarting: nothing a reload could fix
        self.health.suspects.clear()
        for model in tts_model_names():
            await self.check(model, states.get(model))

    async def check(self, model: str, state: str | None) -> None:
        record = self._records.setdefault(model, _Record())
        down = self.health.down.get(model)
        if state == "READY":
            metrics.DEATHS.labels(model=model)  # exported at 0 from the start: increase() sees the first death
            verdict, reason = await self._probe(model)
            if verdict == "alive":
                self._up(model)
            elif verdict == "dead":
                await self._dead(model, reason)
            record.served = True
        elif state in ("LOADING", "UNLOADING") and (record.served or down is not None):
            # A model that served is being (un)loaded (another replica's reload): down meanwhile. Triton's
            # own readiness is false until every model is READY again; /health stays ready (degraded).
            if down is None or down.state is not DownState.DEAD:
                later = time.monotonic() + self.settings.model_probe_interval_seconds
                self.health.mark_down(model, DownState.RELOADING, "being reloaded", retry_at=later)
        elif down is not None and down.state is DownState.DEAD:
            if time.monotonic() >= down.retry_at:  # our reload failed half-way: load it again
                await self._reload(model, down.reason)
        else:  # not loaded (an operator's unload, another replica's failed reload): "not loaded", not ours
            record.served = False
            self.health.mark_up(model)

    async def _probe(self, model: str) -> tuple[str, str]:
        """alive | dead | no_answer | absent, and why."""
        record = self._records.setdefault(model, _Record())
        try:
            await self.triton.probe(model, timeout=self.settings.model_probe_timeout_seconds)
            verdict, reason = "alive", ""
        except ModelDownError as exc:
            verdict, reason = "dead", _reason(exc.message)
        except UnavailableError as exc:
            timed_out = "in time" in exc.message
            verdict, reason = ("no_answer", "it does not answer probes") if timed_out else ("absent", exc.message)
        except Exception as exc:  # an answer, even an error, comes from a live backend
            log.warning("probe of model %s: %s", model, exc)
            verdict, reason = "alive", ""
        metrics.PROBES.labels(model=model, outcome=verdict).inc()
        record.no_answer = record.no_answer + 1 if verdict == "no_answer" else 0
        if record.no_answer >= NO_ANSWER_LIMIT:
            return "dead", f"{reason} ({record.no_answer} probes in a row)"
        return verdict, reason

    def _up(self, model: str) -> None:
        metrics.UP.labels(model=model).set(1)
        if self.health.mark_up(model):
            self._records.setdefault(model, _Record()).up_since = time.monotonic()
            log.warning("model %s serves again", model)

    async def _dead(self, model: str, reason: str) -> None:
        record = self._records.setdefault(model, _Record())
        now = time.monotonic()
        if model not in self.health.down:
            metrics.DEATHS.labels(model=model).inc()
            stable = record.deaths and now - record.up_since >= self.settings.model_reload_backoff_max_seconds
            record.deaths = 1 if stable or not record.deaths else record.deaths + 1
            delay = self._backoff(record.deaths)
            log.error("model %s is dead (%s): reloading it in %.0f s (death %d)", model, reason, delay, record.deaths)
            self.health.mark_down(model, DownState.DEAD, reason, retry_at=now + delay)
            metrics.UP.labels(model=model).set(0)
        if now >= self.health.down[model].retry_at:
            await self._reload(model, reason)

    def _backoff(self, deaths: int) -> float:
        """No wait for a first death; then model_reload_backoff_seconds, doubled per death, capped."""
        if deaths <= 1:
            return 0.0
        base, cap = self.settings.model_reload_backoff_seconds, self.settings.model_reload_backoff_max_seconds
        return float(min(base * 2 ** (deaths - 2), cap))

    async def _reload(self, model: str, reason: str) -> None:
        record = self._records[model]
        handle = await self._lock(model)
        if handle is None:  # another replica reloads it: report, and look again at the next round
            retry_at = time.monotonic() + self.settings.model_probe_interval_seconds
            self.health.mark_down(model, DownState.RELOADING, "being reloaded by another replica", retry_at=retry_at)
            return
        try:
            if (await self._probe(model))[0] == "alive":  # still dead?
                self._up(model)
                return
            # Then a moment's jitter, and still READY? Replicas that share no lock (SQLite, separate
            # databases) find the model (un)loading by the first one. The jitter comes after the probe:
            # a dead stub answers every replica's probe at the same moment, a second or two later.
            await asyncio.sleep(random.uniform(0, RELOAD_JITTER_SECONDS))
            later = time.monotonic() + self.settings.model_probe_interval_seconds
            if (await self.triton.model_states()).get(model) != "READY":
                self.health.mark_down(model, DownState.RELOADING, "being reloaded", retry_at=later)
                return
            timeout = self.settings.model_load_timeout_seconds
            # Retry-After while reloading: come back in a probe interval (loads take seconds to minutes)
            self.health.mark_down(model, DownState.RELOADING, reason, retry_at=later)
            log.warning("reloading model %s (unload, then load)", model)
            try:
                await self.triton.reload(model, timeout=timeout)
                # Through _probe: counted in qwen_tts_model_probes_total like every probe Triton answers
                verdict, why = await self._probe(model)
                if verdict != "alive":
                    raise RuntimeError(f"the reloaded model is {verdict}: {why}")
            except Exception as exc:
                metrics.RELOADS.labels(model=model, outcome="failure").inc()
                record.deaths += 1
                delay = self._backoff(record.deaths)
                log.error("reloading model %s failed (%s): next try in %.0f s", model, exc, delay)
                self.health.mark_down(model, DownState.DEAD, "its reload failed", retry_at=time.monotonic() + delay)
                return
            metrics.RELOADS.labels(model=model, outcome="success").inc()
            self._up(model)
        finally:
            await anyio.to_thread.run_sync(locks.release, handle, _lock_name(model))

    async def _lock(self, model: str) -> object | None:
        if self.database is None:
            return locks.FREE
        try:
            return await anyio.to_thread.run_sync(locks.try_lock, self.database, _lock_name(model))
        except Exception as exc:  # the database is down: healing matters more than the race it guards
            log.warning("reload lock of model %s unavailable (%s): reloading without it", model, exc)
            return locks.FREE


def _lock_name(model: str) -> str:
    return f"reload:{model}"


def _reason(message: str) -> str:
    """The reason inside "model X is down (reason); ..."."""
    start, end = message.find("("), message.find(")")
    return message[start + 1 : end] if 0 <= start < end else message
