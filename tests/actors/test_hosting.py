"""The host core without Ray: the real embedded store, scripted provider answers, a counted store."""

from __future__ import annotations

import asyncio
import time

from flowker.actors.hosting import Host
from flowker.domain.execution import Execution
from flowker.dsl.run_state import ExecutionStatus
from flowker.store.embedded import EmbeddedStore
from flowker.store.ports import StartLease
from tests.actors.test_runner import LEASE, Provider, created


def host(
    store: EmbeddedStore,
    provider: Provider,
    owner: str = "front-1",
    *,
    adopt: bool = True,
    lease: float = LEASE,
) -> tuple[Host, list[int]]:
    nudges: list[int] = []

    async def drain() -> None:
        nudges.append(1)

    async def opened() -> EmbeddedStore:
        return store

    return Host(owner, lease, opened, provider, drain, lambda: "node-1", adopt=adopt), nudges


async def leased(store: EmbeddedStore, owner: str, steps: list[str]) -> Execution:
    """A new execution inserted with ``owner``'s lease, as a front door that runs it itself inserts it."""
    return await created(store, steps, lease=StartLease(owner, time.time() + LEASE))


async def ended(core: Host, execution_id: str) -> str:
    """The status the host's feed tells of ``execution_id`` (waiting for it up to 10 s)."""
    incarnation = core.feed.incarnation
    for _ in range(10):
        told = core.feed.since(0, incarnation)
        for ending in told.endings:
            if ending.execution_id == execution_id:
                return ending.status
        await asyncio.wait_for(core.ended(told.last, incarnation), 10)
    raise AssertionError(f"{execution_id} was never told to have ended")


async def test_a_claimed_execution_runs_without_a_claim_and_its_end_is_told(
    store: EmbeddedStore, monkeypatch
) -> None:
    execution = await leased(store, "front-1", ["a", "b"])
    claims: list[str] = []
    claim = store.executions.claim

    async def counted(execution_id: str, *args: object) -> Execution | None:
        claims.append(execution_id)
        return await claim(execution_id, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(store.executions, "claim", counted)
    provider = Provider()
    core, nudges = host(store, provider)
    assert core.host(execution.id, None, execution)
    assert not core.host(execution.id, None, execution)  # hosted already: not run twice
    assert await ended(core, execution.id) == "completed"
    assert claims == []
    assert [c.idempotency_key for c in provider.calls] == [f"{execution.id}:a", f"{execution.id}:b"]
    done = await store.executions.get(execution.id)
    assert done is not None and done.status == ExecutionStatus.COMPLETED and done.attempts == 1
    assert sum(nudges) > 0  # the audit writer was told of the steps' events
    assert core.running == 0
    await core.stop(1)


async def test_a_host_that_does_not_adopt_leaves_orphans_to_the_supervisors(store: EmbeddedStore) -> None:
    orphan = await created(store, ["a"])  # never handed over
    provider = Provider(delay=30)
    front, _ = host(store, provider, adopt=False, lease=0.3)
    mine = await leased(store, "front-1", ["a"])
    front.host(mine.id, None, mine)
    await asyncio.wait_for(provider.arrived.wait(), 10)
    await asyncio.sleep(0.5)  # a reconcile round or more (every lease / 3)
    assert front.hosted() == [mine.id]
    # A supervisor that adopts takes the orphan up, and not the run the front door holds.
    supervisor, _ = host(store, Provider(), "sup-1", lease=0.3)
    supervisor.start_reconciling()
    assert await ended(supervisor, orphan.id) == "completed"
    assert mine.id not in supervisor.hosted()
    await front.stop(0)
    await supervisor.stop(0)


async def test_stopping_waits_for_runs_then_leaves_the_rest_to_be_adopted(store: EmbeddedStore) -> None:
    quick, slow = Provider(delay=0.05), Provider(delay=30)
    core, _ = host(store, quick)
    done = await leased(store, "front-1", ["a"])
    core.host(done.id, None, done)
    assert await core.stop(5) == 0
    assert (await store.executions.get(done.id)).status == ExecutionStatus.COMPLETED  # type: ignore[union-attr]

    core, _ = host(store, slow)
    held = await leased(store, "front-1", ["a"])
    core.host(held.id, None, held)
    await asyncio.wait_for(slow.arrived.wait(), 10)
    assert await core.stop(0.1) == 1
    left = await store.executions.get(held.id)
    # Stopped before its next step: still running from its last written step, for a supervisor to adopt
    # once the lease lapses.
    assert left is not None and left.status == ExecutionStatus.RUNNING and core.running == 0


async def test_live_names_the_host_and_its_node(store: EmbeddedStore) -> None:
    provider = Provider(delay=30)
    core, _ = host(store, provider)
    execution = await leased(store, "front-1", ["a"])
    core.host(execution.id, None, execution)
    await asyncio.wait_for(provider.arrived.wait(), 10)
    [live] = core.live()
    assert (live["executionId"], live["supervisor"], live["nodeId"]) == (execution.id, "front-1", "node-1")
    assert live["currentNodeIds"] == ["a"]
    assert core.cancel(execution.id) and not core.cancel("unknown")
    await core.stop(0)
