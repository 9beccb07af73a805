"""Crash tests: kill -9 of a supervisor, an executor actor or the audit actor at chosen moments.

A moment is either a pause point (:mod:`flowker.actors.faults`: the process stops there and the test
kills it) or "during" a provider call (the provider holds the request while the test kills). After each
kill the execution must still end, completed, with every step recorded once, every repeated provider
call carrying the same Idempotency-Key, and an audit chain that verifies with gapless sequence numbers.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator

import pytest

from flowker.actors import factory
from flowker.actors.runtime import RayRuntime
from flowker.settings import Settings
from flowker.store.embedded.store import DB_FILE
from tests.helpers.audit import all_events
from tests.helpers.client import ApiClient
from tests.helpers.crash import (
    ab_provider,
    faulty_runtime,
    finished,
    host_pid,
    kill,
    paused_pid,
    prepare,
    start,
)
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider


@pytest.fixture
def pause_point() -> str | None:
    return None


@pytest.fixture
async def runtime(
    ray_cluster: str, settings: Settings, secret_key: str, pause_point: str | None
) -> AsyncIterator[RayRuntime]:
    started = faulty_runtime(settings, secret_key, [pause_point] if pause_point else [])
    yield started
    await started.close()


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with ab_provider() as stub:
        yield stub


async def check_recovered(api: ApiClient, provider: StubProvider, execution_id: str) -> None:
    final = await finished(api, execution_id)
    assert final["status"] == "completed", final
    results = await api.get(f"/v1/executions/{execution_id}/results")
    assert [(s["stepNumber"], s["nodeId"]) for s in results.body["stepResults"]] == [
        (1, "a"),
        (2, "b"),
        (3, "done"),
    ]
    assert results.body["finalOutput"] == {"ok": True}
    for node in ("a", "b"):
        calls = provider.calls(f"/{node}")
        assert calls, node
        assert {c.headers["Idempotency-Key"] for c in calls} == {f"{execution_id}:{node}"}
    events = await all_events(api)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["eventId"] for e in events}) == len(events)
    mine = [e["eventType"] for e in events if e["resourceId"] == execution_id]
    assert mine.count("EXECUTION_STARTED") == 1 and mine.count("EXECUTION_COMPLETED") == 1
    assert mine.count("PROVIDER_CALL_COMPLETED") == 2
    verified = await api.get(f"/v1/audit-events/{events[-1]['eventId']}/verify")
    assert verified.body["isValid"] is True, verified.body


async def test_a_lost_hand_over_is_made_good_by_adoption(
    api: ApiClient, provider: StubProvider, settings: Settings, runtime: RayRuntime
) -> None:
    workflow_id, _ = await prepare(api, provider, settings, armed=False)
    runtime.start_pool()
    # The batch carrying the start never reaches its supervisor (the front door died with it queued,
    # or the supervisor did not answer): the start was answered anyway, the execution is recorded pending.
    dispatch = runtime._dispatch

    async def lost(batch: object) -> None:
        raise ConnectionError("the hand-over was lost")

    for coalescer in dispatch:
        coalescer._send = lost
    execution_id = await start(api, workflow_id)
    await asyncio.gather(*(coalescer.flush(5) for coalescer in dispatch))
    assert (await api.get(f"/v1/executions/{execution_id}")).body["status"] == "pending"
    # A supervisor adopts it once it waited a lease for its hand-over, and runs it once.
    await check_recovered(api, provider, execution_id)
    assert len(provider.calls("/a")) == 1 and len(provider.calls("/b")) == 1


@pytest.mark.parametrize(
    "pause_point",
    [
        "before_call",
        "after_call",
        "executor_before_send",
        "executor_after_send",
        "audit_before_write",
        "audit_after_write",
    ],
)
async def test_kill_at_a_pause_point(
    api: ApiClient, provider: StubProvider, settings: Settings, pause_point: str
) -> None:
    workflow_id, _ = await prepare(api, provider, settings)
    execution_id = await start(api, workflow_id)
    kill(await paused_pid(settings, pause_point))
    await check_recovered(api, provider, execution_id)


async def test_kill_the_supervisor_during_a_call(
    api: ApiClient, provider: StubProvider, settings: Settings, runtime: RayRuntime
) -> None:
    provider.route("POST", "/a", (200, {"a": 1}), delay=2.0)
    workflow_id, _ = await prepare(api, provider, settings)
    execution_id = await start(api, workflow_id)
    await eventually(lambda: asyncio.sleep(0, provider.calls("/a")), bool)
    kill(await host_pid(runtime, execution_id))
    await check_recovered(api, provider, execution_id)
    assert len(provider.calls("/a")) >= 1


async def test_kill_the_executor_actor_during_a_call(
    api: ApiClient, provider: StubProvider, settings: Settings, runtime: RayRuntime
) -> None:
    provider.route("POST", "/a", (200, {"a": 1}), delay=2.0)
    workflow_id, executor_id = await prepare(api, provider, settings)
    execution_id = await start(api, workflow_id)
    await eventually(lambda: asyncio.sleep(0, provider.calls("/a")), bool)
    kill(await factory.executor(runtime.config, executor_id).pid.remote())
    await check_recovered(api, provider, execution_id)
    # The call in flight was lost with its actor and made again, with the same key.
    assert len(provider.calls("/a")) == 2


async def test_kill_the_audit_actor_between_batches(
    api: ApiClient, provider: StubProvider, settings: Settings, runtime: RayRuntime
) -> None:
    provider.route("POST", "/a", (200, {"a": 1}), delay=1.0)
    workflow_id, _ = await prepare(api, provider, settings)
    execution_id = await start(api, workflow_id)
    await eventually(lambda: asyncio.sleep(0, provider.calls("/a")), bool)
    kill(await factory.audit(runtime.config).pid.remote())
    await check_recovered(api, provider, execution_id)


@pytest.mark.parametrize("pause_point", ["before_call"])
async def test_an_expired_lease_is_adopted(
    api: ApiClient, provider: StubProvider, settings: Settings, runtime: RayRuntime, pause_point: str
) -> None:
    """A supervisor that stops renewing (here: stuck, its lease handed to a dead owner) loses the run."""
    workflow_id, _ = await prepare(api, provider, settings)
    execution_id = await start(api, workflow_id)
    await paused_pid(settings, pause_point)
    # The lease now belongs to a supervisor that no longer exists, and it has run out.
    with sqlite3.connect(settings.data_dir / DB_FILE) as db:
        db.execute(
            "UPDATE executions SET lease_owner = 'ghost-supervisor', lease_expires = ? WHERE id = ?",
            (time.time() - 1, execution_id),
        )
    await check_recovered(api, provider, execution_id)
    with sqlite3.connect(settings.data_dir / DB_FILE) as db:
        owner = db.execute("SELECT lease_owner FROM executions WHERE id = ?", (execution_id,)).fetchone()[0]
    assert owner is None  # released when the adopting supervisor finished it
