"""Calls on a model known to be down fail at once; calls in flight when it goes down are aborted
(a dead backend never answers them); a call failing the way a dead backend does makes a suspect."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator

import pytest

from api.errors import ModelDownError
from api.inference.model_health import DownState, ModelHealth

MODEL = "custom_voice_1_7b"


async def collect(health: ModelHealth, model: str, responses: AsyncGenerator[str, None]) -> list[str]:
    return [item async for item in health.guarded(model, responses)]


def test_a_down_model_refuses_calls_at_once_with_a_503_naming_it():
    health = ModelHealth()
    health.mark_down(MODEL, DownState.DEAD, "its backend process stopped", retry_at=time.monotonic() + 30)
    started: list[bool] = []

    async def responses() -> AsyncGenerator[str, None]:
        started.append(True)
        yield "never"

    with pytest.raises(ModelDownError) as caught:
        asyncio.run(collect(health, MODEL, responses()))
    error = caught.value
    assert error.status_code == 503 and MODEL in error.message and "backend process stopped" in error.message
    assert 25 <= int(error.headers["Retry-After"]) <= 30 and not started
    assert health.mark_up(MODEL) and not health.down and not health.mark_up(MODEL)


def test_calls_in_flight_are_aborted_when_their_model_goes_down_and_others_go_on():
    health = ModelHealth()
    cancelled: list[str] = []

    async def hang() -> AsyncGenerator[str, None]:
        yield "first chunk"
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append("dead")  # the gRPC call is cancelled: Triton tells the model
            raise
        yield "never"

    async def quick() -> AsyncGenerator[str, None]:
        await asyncio.sleep(0.2)
        yield "alive"

    async def scenario() -> tuple[BaseException | list[str], ...]:
        dead = asyncio.ensure_future(collect(health, MODEL, hang()))
        alive = asyncio.ensure_future(collect(health, "voice_design_1_7b", quick()))
        await asyncio.sleep(0.05)
        assert health.in_flight(MODEL) == 1
        health.mark_down(MODEL, DownState.DEAD, "its backend process stopped", retry_at=time.monotonic())
        return tuple(await asyncio.gather(dead, alive, return_exceptions=True))

    dead, alive = asyncio.run(scenario())
    assert isinstance(dead, ModelDownError) and alive == ["alive"]
    assert cancelled == ["dead"] and health.in_flight(MODEL) == 0


def test_a_caller_that_leaves_cancels_the_call():
    health = ModelHealth()
    closed: list[bool] = []

    async def hang() -> AsyncGenerator[str, None]:
        try:
            await asyncio.sleep(60)
            yield "never"
        finally:
            closed.append(True)

    async def scenario() -> None:
        call = asyncio.ensure_future(collect(health, MODEL, hang()))
        await asyncio.sleep(0.05)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    asyncio.run(scenario())
    assert closed == [True] and health.in_flight(MODEL) == 0


def test_a_call_failing_like_a_dead_backend_makes_its_model_a_suspect():
    health = ModelHealth()

    async def fail() -> AsyncGenerator[str, None]:
        raise ModelDownError(MODEL, f"model {MODEL} is down")
        yield "never"

    with pytest.raises(ModelDownError):
        asyncio.run(collect(health, MODEL, fail()))
    assert health.suspects == {MODEL} and health.wake.is_set() and not health.down
