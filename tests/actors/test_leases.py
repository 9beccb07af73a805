"""The lease core of the supervisors, without Ray: each store adapter and a clock the test moves."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from flowker.actors.leases import LeaseKeeper
from flowker.clock import iso
from flowker.domain.execution import Execution, request_hash
from flowker.dsl.model import WorkflowDefinition
from flowker.store.ports import Store
from tests.fakes.clock import FakeClock


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test of this module runs once per store adapter (embedded, memory)."""
    return any_store


LEASE = 15.0
T0 = 1_800_000_000.0  # the test's "now", in seconds since the epoch


DEFINITION = WorkflowDefinition.model_validate(
    {"name": "leases", "nodes": [{"id": "start", "type": "trigger"}], "edges": []}
)


async def execution(store: Store, started: float = T0) -> str:
    workflow_id = str(uuid.uuid4())
    moment = datetime.fromtimestamp(started, UTC)
    created, _ = await store.executions.create_or_get(
        Execution(
            id=str(uuid.uuid4()),
            workflowId=workflow_id,
            workflow=DEFINITION,
            idempotencyKey=str(uuid.uuid4()),
            requestHash=request_hash(workflow_id, {}),
            totalSteps=0,
            startedAt=iso(moment),
            deadline=iso(moment + timedelta(minutes=5)),
        )
    )
    return created.id


async def test_a_held_lease_is_renewed_and_a_taken_one_is_reported_lost(store: Store) -> None:
    clock = FakeClock(T0)
    mine, taken = await execution(store), await execution(store)
    for execution_id in (mine, taken):
        assert await store.executions.claim(execution_id, "sup-a", T0 + LEASE, T0)
    keeper = LeaseKeeper(store.executions, "sup-a", LEASE, clock)
    clock.now = T0 + LEASE + 1  # both expired; another supervisor adopts one of them
    assert await store.executions.claim(taken, "sup-b", clock.now + LEASE, clock.now)
    found = await keeper.reconcile(hosted=[mine, taken], leased=[mine, taken])
    assert found.lost == {taken}
    # The one nobody took is renewed: no other supervisor may adopt it now.
    other = LeaseKeeper(store.executions, "sup-b", LEASE, clock)
    assert mine not in (await other.reconcile(hosted=[], leased=[])).adopt


async def test_a_dead_supervisors_runs_are_adopted_once_its_leases_expire(store: Store) -> None:
    clock = FakeClock(T0)
    orphan = await execution(store)
    assert await store.executions.claim(orphan, "sup-dead", T0 + LEASE, T0)
    keeper = LeaseKeeper(store.executions, "sup-b", LEASE, clock)
    clock.now = T0 + LEASE - 1
    assert (await keeper.reconcile([], [])).adopt == []
    clock.now = T0 + LEASE + 1
    assert (await keeper.reconcile([], [])).adopt == [orphan]
    # ... but not when it already hosts it.
    assert (await keeper.reconcile([orphan], [])).adopt == []


async def test_a_restarted_supervisor_takes_its_own_runs_back_at_once(store: Store) -> None:
    clock = FakeClock(T0)
    own = await execution(store)
    assert await store.executions.claim(own, "sup-a", T0 + LEASE, T0)
    assert (await LeaseKeeper(store.executions, "sup-a", LEASE, clock).reconcile([], [])).adopt == [own]


async def test_an_unclaimed_run_is_adopted_only_after_its_hand_over_had_time(store: Store) -> None:
    clock = FakeClock(T0)
    handed_over = await execution(store, started=T0)
    keeper = LeaseKeeper(store.executions, "sup-a", LEASE, clock)
    clock.now = T0 + LEASE / 2
    assert (await keeper.reconcile([], [])).adopt == []
    clock.now = T0 + LEASE + 1
    assert (await keeper.reconcile([], [])).adopt == [handed_over]


async def test_cancels_asked_for_hosted_runs_are_reported(store: Store) -> None:
    keeper = LeaseKeeper(store.executions, "sup-a", LEASE, FakeClock(T0))
    asked, quiet = await execution(store), await execution(store)
    assert await store.executions.request_cancel(asked, {"type": "api_key", "id": "k", "ipAddress": "::1"})
    assert (await keeper.reconcile([asked, quiet], [])).cancel == {asked}
    assert keeper.interval == LEASE / 3
