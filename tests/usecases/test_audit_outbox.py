"""Changes and their audit events are committed together: no Ray, each store adapter, a fake sink."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from flowker.actors.sequencer import Sequencer
from flowker.clock import iso, utc_now
from flowker.domain.audit import Actor, AuditAction, AuditEvent, ResourceType
from flowker.domain.execution import Execution, request_hash
from flowker.dsl.model import WorkflowDefinition, WorkflowStatus
from flowker.dsl.run_state import ExecutionStatus
from flowker.errors import StateChanged
from flowker.store.embedded import EmbeddedStore
from flowker.store.mongo import MongoStore
from flowker.store.mongo.schema import OUTBOX
from flowker.store.ports import Store
from flowker.usecases import outbox
from flowker.usecases.executions import Executions
from flowker.usecases.workflows import Workflows
from tests.fakes.memory_store import MemoryStore


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test of this module runs once per store adapter (embedded, memory)."""
    return any_store


ALICE = Actor(type="api_key", id="key-alice", ip="10.1.2.3")


class FailingSink:
    """An audit writer that is down: every hand-over fails (or hangs, with ``hang``)."""

    def __init__(self, *, hang: bool = False) -> None:
        self.hang = hang
        self.calls = 0

    async def record(self, events: Sequence[AuditEvent]) -> None:
        self.calls += 1
        if self.hang:
            await asyncio.Event().wait()
        raise ConnectionError("audit actor unreachable")

    async def drain(self) -> None:
        raise ConnectionError("audit actor unreachable")


class IdleRuntime(FailingSink):
    """A runtime whose supervisors never take an execution up (it stays pending)."""

    def start_lease(self) -> None:
        return None

    async def start(self, execution_id: str, claimed: object = None) -> None:
        pass

    async def wait(self, execution_id: str, seconds: float) -> None:
        await asyncio.sleep(seconds)  # never told of an end

    async def cancel(self, execution_id: str) -> None:
        pass

    async def test_executor(self, config: Any) -> dict[str, Any]:
        return {}

    async def release_executor(self, executor_config_id: str) -> None:
        pass

    async def config_changed(self, executor_config_id: str) -> None:
        pass


def definition() -> WorkflowDefinition:
    return WorkflowDefinition.model_validate(
        {
            "name": f"outbox {uuid.uuid4().hex[:12]}",
            "nodes": [
                {"id": "start", "type": "trigger"},
                {"id": "done", "type": "action", "data": {"actionType": "set_output", "output": {}}},
            ],
            "edges": [{"id": "e1", "source": "start", "target": "done"}],
        }
    )


@pytest.mark.parametrize("hang", [False, True], ids=["fails", "hangs"])
async def test_a_change_whose_audit_hand_over_fails_is_made_and_its_event_kept(
    store: Store, hang: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "PUBLISH_WAIT_SECONDS", 0.2)
    sink = FailingSink(hang=hang)
    workflows = Workflows(store, sink)
    created = await workflows.create(definition(), ALICE)
    assert sink.calls == 1
    assert (await store.workflows.get(created.id)) is not None
    staged = await store.audit.staged(10)
    assert [(e.event_type, e.resource_id, e.actor) for e in staged] == [
        ("WORKFLOW_CREATED", created.id, ALICE)
    ]

    # The audit writer, back, chains it from the outbox and empties the outbox in the same transaction.
    await Sequencer(store.audit).drain()
    assert await store.audit.staged(10) == []
    chained = await store.audit.get(staged[0].event_id)
    assert chained is not None and chained["sequence"] == 1 and chained["actor"]["id"] == "key-alice"


async def test_a_change_that_fails_stages_no_event(store: Store) -> None:
    workflows = Workflows(store, FailingSink())
    first = await workflows.create(definition(), ALICE)
    stale = first.model_copy(update={"description": "edited elsewhere"})
    await store.workflows.replace(stale)
    staged_before = await store.audit.staged(10)
    with pytest.raises(StateChanged):
        event = AuditEvent("WORKFLOW_UPDATED", AuditAction.UPDATE, ResourceType.WORKFLOW, first.id)
        await store.workflows.replace(stale, [event])
    assert await store.audit.staged(10) == staged_before


async def test_the_outbox_is_drained_in_commit_order_before_newer_appends(store: Store) -> None:
    workflows = Workflows(store, FailingSink())
    ids = [(await workflows.create(definition(), ALICE)).id for _ in range(3)]
    sequencer = Sequencer(store.audit)
    direct = AuditEvent("EXECUTION_STARTED", AuditAction.EXECUTE, ResourceType.EXECUTION, "x")
    assert await sequencer.append([direct]) == [4]
    chained = await store.audit.up_to(4)
    assert [r["resourceId"] for r in chained] == [*ids, "x"]


async def pending_execution(store: Store, executions: Executions, actor: Actor) -> Execution:
    workflows = Workflows(store, FailingSink())
    workflow = await workflows.create(definition(), ALICE)
    workflow = await store.workflows.replace(workflow.model_copy(update={"status": WorkflowStatus.ACTIVE}))
    started = await executions.start(workflow.id, {"n": 1}, f"key-{uuid.uuid4()}", actor)
    return started.execution


async def test_cancelling_a_pending_execution_is_audited_with_who_asked(store: Store) -> None:
    executions = Executions(store, IdleRuntime(), 60)
    execution = await pending_execution(store, executions, ALICE)
    bob = Actor(type="api_key", id="key-bob", ip="10.9.9.9")
    cancelled = await executions.cancel(execution.id, bob)
    assert cancelled.status == "cancelled" and cancelled.errorMessage == "cancelled before it started"
    staged = [e for e in await store.audit.staged(100) if e.resource_id == execution.id]
    assert [(e.event_type, e.actor) for e in staged] == [("EXECUTION_CANCELLED", bob)]


async def test_cancelling_a_running_execution_records_the_request_once(store: Store) -> None:
    executions = Executions(store, IdleRuntime(), 60)
    execution = await pending_execution(store, executions, ALICE)
    # A supervisor takes it up: it is running under its lease.
    assert await store.executions.claim(execution.id, "sup-1", 1e12, 0)
    running = await store.executions.get(execution.id)
    assert running is not None
    running = running.model_copy(update={"status": ExecutionStatus.RUNNING})
    await store.executions.save(running, lease_owner="sup-1", now=1)
    bob = Actor(type="api_key", id="key-bob", ip="10.9.9.9")
    await executions.cancel(execution.id, bob)
    await executions.cancel(execution.id, ALICE)  # asked again: nothing new to record
    staged = [e for e in await store.audit.staged(100) if e.resource_id == execution.id]
    assert [(e.event_type, e.actor) for e in staged] == [("EXECUTION_CANCEL_REQUESTED", bob)]
    flagged = await store.executions.get(execution.id)
    assert flagged is not None and flagged.cancelRequested and flagged.cancelRequestedBy == bob.to_dict()


def candidate(workflow_id: str = str(uuid.uuid4())) -> Execution:
    now = utc_now()
    return Execution(
        id=str(uuid.uuid4()),
        workflowId=workflow_id,
        workflow=definition(),
        idempotencyKey=str(uuid.uuid4()),
        requestHash=request_hash(workflow_id, {}),
        totalSteps=1,
        startedAt=iso(now),
        deadline=iso(now + timedelta(minutes=5)),
    )


async def test_a_runner_whose_lease_was_taken_cannot_commit(store: Store) -> None:
    execution, _ = await store.executions.create_or_get(candidate())
    assert await store.executions.claim(execution.id, "sup-a", expires=100.0, now=0.0)
    held_by_a = await store.executions.get(execution.id)
    assert held_by_a is not None and held_by_a.attempts == 1
    # A's lease runs out; B takes the execution up.
    assert await store.executions.claim(execution.id, "sup-b", expires=300.0, now=200.0)
    with pytest.raises(StateChanged):
        await store.executions.save(held_by_a, lease_owner="sup-a", now=150.0)
    held_by_b = await store.executions.get(execution.id)
    assert held_by_b is not None and held_by_b.attempts == 2
    saved = await store.executions.save(held_by_b, lease_owner="sup-b", now=250.0)
    assert saved.revision == held_by_b.revision + 1


async def test_a_runner_whose_lease_expired_cannot_commit_even_if_nobody_took_it(
    store: Store,
) -> None:
    execution, _ = await store.executions.create_or_get(candidate())
    assert await store.executions.claim(execution.id, "sup-a", expires=100.0, now=0.0)
    held = await store.executions.get(execution.id)
    assert held is not None
    with pytest.raises(StateChanged):
        await store.executions.save(held, lease_owner="sup-a", now=100.5)
    await store.executions.save(held, lease_owner="sup-a", now=99.0)


async def test_a_claim_fences_out_a_runner_of_the_same_name(store: Store) -> None:
    """A restarted supervisor keeps its name; the old incarnation's writes must still be refused."""
    execution, _ = await store.executions.create_or_get(candidate())
    assert await store.executions.claim(execution.id, "sup-a", expires=100.0, now=0.0)
    old = await store.executions.get(execution.id)
    assert old is not None
    assert await store.executions.claim(execution.id, "sup-a", expires=200.0, now=50.0)
    with pytest.raises(StateChanged):
        await store.executions.save(old, lease_owner="sup-a", now=60.0)


async def test_an_unreadable_outbox_row_does_not_stop_the_others(store: Store) -> None:
    workflows = Workflows(store, FailingSink())
    if isinstance(store, EmbeddedStore):
        await store.db.write(
            lambda conn: conn.execute(
                "INSERT INTO audit_outbox (event_id, doc) VALUES (?, ?)", ("broken", b'{"not": "an event"}')
            )
        )
    elif isinstance(store, MongoStore):
        await store.database.collection(OUTBOX).insert_one(
            {"_id": "broken", "position": -1, "doc": '{"not": "an event"}'}
        )
    else:
        assert isinstance(store, MemoryStore)
        store.stage_raw("broken", b'{"not": "an event"}')
    created = await workflows.create(definition(), ALICE)
    sequencer = Sequencer(store.audit)
    direct = AuditEvent("EXECUTION_STARTED", AuditAction.EXECUTE, ResourceType.EXECUTION, "x")
    assert await sequencer.append([direct]) == [2]
    assert [r["resourceId"] for r in await store.audit.up_to(2)] == [created.id, "x"]


async def test_drain_chains_more_than_a_batch_and_a_busy_writer_cannot_hold_it(store: Store) -> None:
    workflows = Workflows(store, FailingSink())
    many = [
        AuditEvent("WORKFLOW_CREATED", AuditAction.CREATE, ResourceType.WORKFLOW, str(i)) for i in range(2500)
    ]
    first = await workflows.create(definition(), ALICE)
    await store.workflows.replace(first, many)
    sequencer = Sequencer(store.audit)
    await sequencer.drain()
    assert await store.audit.staged(1) == []
    assert len(await store.audit.up_to(10_000)) == 2501

    stop = asyncio.Event()

    async def keep_changing() -> None:
        while not stop.is_set():
            await workflows.create(definition(), ALICE)

    writer = asyncio.create_task(keep_changing())
    try:
        await asyncio.wait_for(sequencer.drain(), 10)
    finally:
        stop.set()
        await writer
