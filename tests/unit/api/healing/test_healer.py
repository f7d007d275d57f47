"""The healer against a scripted gateway: a dead model is reported and reloaded at once, one that
dies again waits a growing backoff (reported meanwhile), a failed reload backs off, a model another
replica is reloading is not reloaded twice (with a lock, or without one: a jitter after the last
probe), and calls that merely fail do not reload anything."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest

from api.errors import ModelDownError, UnavailableError
from api.healing import healer as healer_module
from api.healing import metrics
from api.healing.healer import Healer
from api.inference.model_health import DownState, ModelHealth
from api.settings import Settings

MODEL = "custom_voice_1_7b"


class FakeGateway:
    """`alive[model]` says how the model's probes answer; a reload makes it alive unless `reload_fails`."""

    def __init__(self) -> None:
        self.models = ModelHealth()
        self.alive = {MODEL: True, "voice_design_1_7b": True}
        self.reloads: list[str] = []
        self.reload_fails = False
        self.states: dict[str, str] = {}

    async def model_states(self) -> dict[str, str]:
        return {"engine_info": "READY", **{model: self.states.get(model, "READY") for model in self.alive}}

    async def probe(self, model: str, *, timeout: float) -> None:
        if not self.alive[model]:
            raise ModelDownError(model, f"model {model} is down (its backend process stopped); retry shortly")

    async def reload(self, model: str, *, timeout: float) -> None:
        self.reloads.append(model)
        if self.reload_fails:
            raise UnavailableError(f"model {model} could not be loaded")
        self.alive[model] = True


@pytest.fixture(autouse=True)
def _no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(healer_module, "RELOAD_JITTER_SECONDS", 0.0)


def make(**settings: Any) -> tuple[Healer, FakeGateway]:
    gateway = FakeGateway()
    options = {"model_reload_backoff_seconds": 10.0, "model_reload_backoff_max_seconds": 300.0, **settings}
    return Healer(triton=gateway, database=None, settings=Settings(**options)), gateway  # type: ignore[arg-type]


def counter(metric: Any, **labels: str) -> float:
    return float(metric.labels(**labels)._value.get())


def run(step: Callable[[], Any]) -> Any:
    return asyncio.run(step())


def test_a_dead_model_is_reported_reloaded_at_once_and_counted():
    healer, gateway = make()
    deaths, reloads = counter(metrics.DEATHS, model=MODEL), counter(metrics.RELOADS, model=MODEL, outcome="success")
    run(healer.round)
    assert gateway.reloads == [] and not gateway.models.down  # alive: nothing to do
    gateway.alive[MODEL] = False
    run(healer.round)
    assert gateway.reloads == [MODEL] and not gateway.models.down and gateway.alive[MODEL]
    assert counter(metrics.DEATHS, model=MODEL) == deaths + 1
    assert counter(metrics.RELOADS, model=MODEL, outcome="success") == reloads + 1
    assert counter(metrics.UP, model=MODEL) == 1


def test_a_model_that_dies_again_backs_off_and_stays_reported(monkeypatch: pytest.MonkeyPatch):
    healer, gateway = make()
    clock = [1000.0]
    monkeypatch.setattr(healer_module.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr("api.inference.model_health.time.monotonic", lambda: clock[0])
    gateway.alive[MODEL] = False
    run(healer.round)  # first death: reloaded at once
    assert gateway.reloads == [MODEL]
    clock[0] += 5
    gateway.alive[MODEL] = False  # dies again soon after
    run(healer.round)
    assert gateway.reloads == [MODEL]  # no tight loop: it waits 10 s
    down = gateway.models.down[MODEL]
    assert down.state is DownState.DEAD and down.retry_at == pytest.approx(clock[0] + 10)
    with pytest.raises(ModelDownError):
        gateway.models.check(MODEL)
    clock[0] += 10.5
    run(healer.round)
    assert gateway.reloads == [MODEL, MODEL] and not gateway.models.down
    clock[0] += 1
    gateway.alive[MODEL] = False  # third death: 20 s
    run(healer.round)
    assert gateway.models.down[MODEL].retry_at == pytest.approx(clock[0] + 20)
    clock[0] += 21
    run(healer.round)
    clock[0] += 400  # then it serves for longer than the longest backoff: the next death reloads at once
    gateway.alive[MODEL] = False
    run(healer.round)
    assert gateway.reloads == [MODEL] * 4 and not gateway.models.down


def test_a_failed_reload_backs_off_and_keeps_the_model_reported(monkeypatch: pytest.MonkeyPatch):
    healer, gateway = make()
    gateway.alive[MODEL], gateway.reload_fails = False, True
    failures = counter(metrics.RELOADS, model=MODEL, outcome="failure")
    run(healer.round)
    assert gateway.reloads == [MODEL] and counter(metrics.RELOADS, model=MODEL, outcome="failure") == failures + 1
    down = gateway.models.down[MODEL]
    assert down.state is DownState.DEAD and down.retry_at - time.monotonic() == pytest.approx(10, abs=1)
    run(healer.round)
    assert gateway.reloads == [MODEL]  # not before its backoff
    assert counter(metrics.UP, model=MODEL) == 0


def test_a_model_another_replica_reloads_is_not_reloaded_twice(monkeypatch: pytest.MonkeyPatch):
    healer, gateway = make()
    monkeypatch.setattr(healer, "_lock", lambda model: _none())
    gateway.alive[MODEL] = False
    run(healer.round)
    assert gateway.reloads == [] and gateway.models.down[MODEL].state is DownState.RELOADING
    gateway.alive[MODEL] = True  # the other replica's reload is done
    run(healer.round)
    assert not gateway.models.down and gateway.reloads == []


async def _none() -> None:
    return None


def test_a_model_another_replica_is_reloading_is_reported_and_not_touched():
    healer, gateway = make()
    run(healer.round)  # it serves
    gateway.states[MODEL] = "UNLOADING"
    run(healer.round)
    assert gateway.models.down[MODEL].state is DownState.RELOADING and gateway.reloads == []
    gateway.states[MODEL] = "READY"
    run(healer.round)
    assert not gateway.models.down


def test_a_model_an_operator_unloads_is_not_reloaded():
    healer, gateway = make()
    gateway.states[MODEL] = "UNAVAILABLE"  # never served: a plain "not loaded"
    run(healer.round)
    assert not gateway.models.down and gateway.reloads == []


def test_a_suspect_is_probed_and_left_alone_when_it_answers():
    healer, gateway = make()
    gateway.models.suspect(MODEL)
    run(healer.round)
    assert not gateway.models.suspects and not gateway.models.down and gateway.reloads == []


class DeadStubTriton(FakeGateway):
    """Triton in front of a dead stub, as seen with 2.51 (two APIs found the death and started their
    reloads in the same millisecond): it answers the probes of the dead model at its own moments
    (every TICK seconds here), all pending probes at once; every call takes a round trip; a reload
    shows the model LOADING for a while."""

    TICK, ROUND_TRIP = 0.2, 0.02

    async def model_states(self) -> dict[str, str]:
        states = await super().model_states()  # as Triton had them when asked
        await asyncio.sleep(self.ROUND_TRIP)
        return states

    async def probe(self, model: str, *, timeout: float) -> None:
        if not self.alive[model]:
            now = asyncio.get_running_loop().time()
            await asyncio.sleep(self.TICK - now % self.TICK)
        await super().probe(model, timeout=timeout)

    async def reload(self, model: str, *, timeout: float) -> None:
        self.states[model] = "LOADING"
        await asyncio.sleep(self.TICK)
        self.states.pop(model, None)
        await super().reload(model, timeout=timeout)


class Replica:
    """One API replica in front of the shared Triton: its own view of the models."""

    def __init__(self, triton: FakeGateway) -> None:
        self.models = ModelHealth()
        self._triton = triton

    def __getattr__(self, name: str) -> Any:
        return getattr(self._triton, name)


def test_replicas_that_share_no_lock_do_not_both_reload_a_dead_model(monkeypatch: pytest.MonkeyPatch):
    """The dead stub answers both replicas' probes at the same moment: the jitter must come after
    the last probe, or both find the model READY at once and both reload it."""
    monkeypatch.setattr(healer_module, "RELOAD_JITTER_SECONDS", 1.0)
    jitters = iter([0.0, 0.05])  # more than a round trip apart, well inside a tick
    monkeypatch.setattr(healer_module.random, "uniform", lambda low, high: next(jitters))
    triton = DeadStubTriton()
    triton.alive[MODEL] = False
    replicas = [Replica(triton) for _ in range(2)]
    healers = [Healer(triton=r, database=None, settings=Settings()) for r in replicas]  # type: ignore[arg-type]

    async def both() -> None:
        await asyncio.gather(*(healer.check(MODEL, "READY") for healer in healers))

    run(both)
    assert triton.reloads == [MODEL]
    assert [r.models.down[MODEL].state for r in replicas if MODEL in r.models.down] == [DownState.RELOADING]
