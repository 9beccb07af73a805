"""An executor actor killed while calls are in flight: the caller's channel sends them once more.

Apart from tests/actors/test_executor.py, whose actors exit after 1 s idle: a restarted actor that exits
that fast can be gone before the caller learns of the crash, and Ray then reports the later, intended
exit as the cause (the calls would be taken for never delivered). Here the actors stay up for a while.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flowker.actors.executor_handle import ExecutorHandles
from flowker.actors.runtime import RayRuntime
from flowker.domain.executor_config import ExecutorStatus
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.actors.test_executor import add_config, payment
from tests.conftest import API_KEY
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

pytestmark = pytest.mark.ray


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY,),
        retry_backoff_seconds=0.01,
        executor_idle_seconds=60.0,
    )


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        yield stub


@pytest.mark.parametrize("disable", [False, True], ids=["made-again", "refused-unsent"])
async def test_calls_cut_off_by_a_crashed_actor_are_sent_once_more_with_the_same_key(
    disable: bool, runtime: RayRuntime, store: EmbeddedStore, secret_key: str, provider: StubProvider
) -> None:
    """Ray restarts the actor, but retries neither its submit nor its poll: the channel sends the calls
    it waited for once more itself, so each reached the provider exactly twice (or once, when the
    restarted actor refuses it unsent, and its result says that the first may have reached it)."""
    provider.route("POST", "/pay", (200, {"paid": True}), delay=2.0)
    config = await add_config(store, secret_key, provider.url)
    handles = ExecutorHandles(runtime.config)
    keys = [f"exec-{i}:pay" for i in range(5)]
    in_flight = [asyncio.ensure_future(handles.call(payment(config.id, key))) for key in keys]
    await eventually(lambda: asyncio.sleep(0, provider.calls("/pay")), lambda calls: len(calls) == len(keys))
    if disable:
        await store.executor_configs.replace(config.model_copy(update={"status": ExecutorStatus.DISABLED}))
    os.kill(await handles.handle(config.id).pid.remote(), signal.SIGKILL)
    results = await asyncio.gather(*in_flight)
    if disable:
        assert [(r.ok, r.code, r.may_have_reached) for r in results] == [(False, "FLK-0154", True)] * len(
            keys
        )
    else:
        assert [(r.ok, r.response and r.response["body"]) for r in results] == [(True, {"paid": True})] * 5
    sent = sorted(r.headers["Idempotency-Key"] for r in provider.calls("/pay"))
    assert sent == sorted(keys * (1 if disable else 2))
