"""The contract of the execution and audit ports, run against both adapters (embedded, memory):
idempotency keys, step records, check-and-set and lease fencing, cancel flags, orphans, the outbox,
the audit log's append, filters and pages, and that nothing of a write that raised is kept."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flowker.domain.audit import Actor, AuditAction, AuditEvent, AuditResult, ResourceType, seal
from flowker.domain.execution import Execution, request_hash
from flowker.dsl.model import WorkflowDefinition, WorkflowStatus
from flowker.dsl.run_state import ExecutionStatus, StepRecord, StepStatus
from flowker.errors import Conflict, StateChanged, WorkflowChanged
from flowker.store.ports import AuditQuery, ExecutionQuery, StartLease, Store
from tests.store.builders import make_workflow

DEFINITION = WorkflowDefinition.model_validate(
    {"name": "contract", "nodes": [{"id": "start", "type": "trigger"}], "edges": []}
)
BOB = Actor(type="api_key", id="key-bob", ip="10.9.9.9")


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def make_execution(
    *, started: str = "2026-05-01T00:00:00.000000Z", workflow_id: str = "wf-1", key: str | None = None
) -> Execution:
    return Execution(
        id=str(uuid.uuid4()),
        workflowId=workflow_id,
        workflow=DEFINITION,
        idempotencyKey=key or str(uuid.uuid4()),
        requestHash=request_hash(workflow_id, {}),
        inputData={"amount": 10},
        totalSteps=2,
        startedAt=started,
        deadline="2026-05-01T01:00:00.000000Z",
    )


def step(number: int) -> StepRecord:
    return StepRecord(
        step_number=number,
        node_id=f"n{number}",
        step_name=f"step {number}",
        status=StepStatus.COMPLETED,
        output={"n": number},
        error_message=None,
        executed_at="2026-05-01T00:00:01.000000Z",
        duration_ms=3,
    )


def event(resource_id: str = "r", event_type: str = "EXECUTION_STARTED") -> AuditEvent:
    return AuditEvent(event_type, AuditAction.EXECUTE, ResourceType.EXECUTION, resource_id)


def sealed(events: list[AuditEvent], first: int = 1, previous: str | None = None) -> list[dict[str, Any]]:
    records = []
    for offset, item in enumerate(events):
        record = seal(item.body(f"2026-05-0{1 + offset % 9}T00:00:00.000000Z", first + offset), previous)
        previous = record["hash"]
        records.append(record)
    return records


# ----------------------------------------------------------------------------------------- executions


async def test_an_idempotency_key_is_held_by_one_execution(store: Store) -> None:
    first, created = await store.executions.create_or_get(make_execution(key="same"))
    assert created and first.revision == 1
    again, created_again = await store.executions.create_or_get(make_execution(key="same"))
    assert not created_again and again.id == first.id and again == await store.executions.get(first.id)
    assert await store.executions.find_by_key("same") == again
    assert await store.executions.find_by_key("other") is None
    assert await store.executions.get("missing") is None
    assert (again.attempts, again.cancelRequested, again.workflow) == (0, False, DEFINITION)


async def test_an_execution_id_taken_under_another_key_is_refused(store: Store) -> None:
    first, _ = await store.executions.create_or_get(make_execution(key="first"))
    with pytest.raises(StateChanged):
        await store.executions.create_or_get(make_execution(key="second").model_copy(update={"id": first.id}))
    assert await store.executions.find_by_key("second") is None


async def test_a_step_recorded_twice_is_refused_and_nothing_of_that_save_is_kept(store: Store) -> None:
    execution, _ = await store.executions.create_or_get(make_execution())
    saved = await store.executions.save(execution, [step(1)], [event(execution.id)])
    assert saved.revision == 2
    running = saved.model_copy(update={"status": ExecutionStatus.RUNNING, "currentStepNumber": 2})
    with pytest.raises(StateChanged):
        await store.executions.save(running, [step(2), step(1)], [event(execution.id, "EXECUTION_FAILED")])
    with pytest.raises(StateChanged):
        await store.executions.save(running, [step(2), step(2)])
    assert await store.executions.steps(execution.id) == [step(1)]
    assert await store.executions.get(execution.id) == saved
    assert [e.event_type for e in await store.audit.staged(10)] == ["EXECUTION_STARTED"]
    await store.executions.save(running, [step(3), step(2)])
    assert [s.step_number for s in await store.executions.steps(execution.id)] == [1, 2, 3]


async def test_a_stale_save_keeps_neither_its_steps_nor_its_events(store: Store) -> None:
    execution, _ = await store.executions.create_or_get(make_execution())
    await store.executions.save(execution)
    with pytest.raises(StateChanged):
        await store.executions.save(execution, [step(1)], [event(execution.id)])
    assert await store.executions.steps(execution.id) == []
    assert await store.audit.staged(10) == []
    with pytest.raises(StateChanged):
        await store.executions.save(make_execution(), [step(1)])


async def test_a_claim_counts_an_attempt_and_fences_the_lease(store: Store) -> None:
    execution, _ = await store.executions.create_or_get(make_execution())
    claimed = await store.executions.claim(execution.id, "sup-a", expires=100.0, now=0.0)
    assert claimed is not None and (claimed.attempts, claimed.revision) == (1, 2)
    assert await store.executions.claim(execution.id, "sup-b", expires=150.0, now=50.0) is None
    held = await store.executions.get(execution.id)
    # The claim answered the execution as it is stored now.
    assert held == claimed
    with pytest.raises(StateChanged):
        await store.executions.save(held, lease_owner="sup-b", now=10.0)
    with pytest.raises(StateChanged):  # a write at the exact expiry is too late
        await store.executions.save(held, lease_owner="sup-a", now=100.0)
    ended = {"status": ExecutionStatus.COMPLETED, "completedAt": "2026-05-01T00:00:09Z"}
    done = held.model_copy(update=ended)
    await store.executions.save(done, lease_owner="sup-a", now=99.0)
    # An execution that ended holds no lease and cannot be claimed again.
    assert await store.executions.renew("sup-a", [execution.id], 500.0) == {execution.id}
    assert not await store.executions.claim(execution.id, "sup-a", expires=900.0, now=800.0)
    assert await store.executions.orphans("sup-a", 10_000.0, 10, "9999") == []
    assert await store.executions.claim("missing", "sup-a", 1.0, 0.0) is None


async def test_an_insert_with_a_lease_is_claimed_by_its_owner(store: Store) -> None:
    execution, created = await store.executions.create_or_get(
        make_execution(), lease=StartLease("front-1", expires=100.0)
    )
    assert created and (execution.attempts, execution.revision) == (1, 1)
    assert await store.executions.get(execution.id) == execution
    # Held: nobody else claims it before the lease expires, and nobody adopts it.
    assert await store.executions.claim(execution.id, "sup-b", expires=150.0, now=50.0) is None
    assert await store.executions.orphans("sup-b", 50.0, 10, "9999") == []
    saved = await store.executions.save(
        execution.model_copy(update={"status": ExecutionStatus.RUNNING}), lease_owner="front-1", now=10.0
    )
    assert saved.revision == 2
    with pytest.raises(StateChanged):
        await store.executions.save(saved, lease_owner="sup-b", now=11.0)
    # Its owner died: once the lease expires it is an orphan, and a claim counts a second attempt.
    assert await store.executions.orphans("sup-b", 101.0, 10, "0") == [execution.id]
    adopted = await store.executions.claim(execution.id, "sup-b", expires=300.0, now=101.0)
    assert adopted is not None and adopted.attempts == 2
    # A replay of its key finds it, and leases nothing.
    again, created = await store.executions.create_or_get(
        make_execution(key=execution.idempotencyKey), lease=StartLease("front-2", expires=500.0)
    )
    assert not created and again.id == execution.id and again.attempts == 2


async def test_renew_extends_held_leases_and_reports_the_others(store: Store) -> None:
    mine, theirs, free = [(await store.executions.create_or_get(make_execution()))[0].id for _ in range(3)]
    assert await store.executions.claim(mine, "sup-a", 10.0, 0.0)
    assert await store.executions.claim(theirs, "sup-b", 10.0, 0.0)
    assert await store.executions.renew("sup-a", [], 50.0) == set()
    assert await store.executions.renew("sup-a", [mine, theirs, free, "missing"], 50.0) == {
        theirs,
        free,
        "missing",
    }
    assert not await store.executions.claim(mine, "sup-b", 60.0, 20.0)  # renewed until 50
    assert await store.executions.claim(theirs, "sup-a", 60.0, 20.0)  # theirs expired at 10


async def test_a_cancel_flag_is_raised_once_on_an_unfinished_execution(store: Store) -> None:
    execution, _ = await store.executions.create_or_get(make_execution())
    assert await store.executions.cancel_requested([]) == set()
    assert await store.executions.request_cancel(execution.id, BOB.to_dict(), [event(execution.id)])
    assert not await store.executions.request_cancel(execution.id, {"id": "again"}, [event(execution.id)])
    assert not await store.executions.request_cancel("missing", BOB.to_dict())
    flagged = await store.executions.get(execution.id)
    assert flagged is not None
    assert (flagged.cancelRequested, flagged.cancelRequestedBy, flagged.revision) == (True, BOB.to_dict(), 1)
    assert await store.executions.cancel_requested([execution.id, "missing"]) == {execution.id}
    assert len(await store.audit.staged(10)) == 1
    # The runner's own write does not lower the flag.
    await store.executions.save(flagged.model_copy(update={"cancelRequested": False}))
    assert await store.executions.cancel_requested([execution.id]) == {execution.id}
    ended, _ = await store.executions.create_or_get(make_execution())
    await store.executions.save(ended.model_copy(update={"status": ExecutionStatus.FAILED}))
    assert not await store.executions.request_cancel(ended.id, BOB.to_dict())


async def test_orphans_are_the_unfinished_runs_nobody_holds_oldest_first(store: Store) -> None:
    async def started(moment: str) -> str:
        return (await store.executions.create_or_get(make_execution(started=moment)))[0].id

    own = await started("2026-05-01T00:00:03Z")
    expired = await started("2026-05-01T00:00:01Z")
    unclaimed_old = await started("2026-05-01T00:00:02Z")
    await started("2026-05-01T00:00:09Z")  # unclaimed, but too recent
    held = await started("2026-05-01T00:00:00Z")
    assert await store.executions.claim(own, "sup-a", 1000.0, 0.0)
    assert await store.executions.claim(expired, "sup-dead", 10.0, 0.0)
    assert await store.executions.claim(held, "sup-b", 1000.0, 0.0)
    orphans = await store.executions.orphans("sup-a", 100.0, 10, "2026-05-01T00:00:05Z")
    assert orphans == [expired, unclaimed_old, own]
    assert await store.executions.orphans("sup-a", 100.0, 2, "2026-05-01T00:00:05Z") == orphans[:2]


async def test_executions_are_listed_in_keyset_pages_with_filters(store: Store) -> None:
    moments = ["2026-05-01T00:00:00Z", "2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"]
    made = []
    for index in range(9):
        execution, _ = await store.executions.create_or_get(
            make_execution(started=moments[index % 3], workflow_id=f"wf-{index % 2}")
        )
        if index % 3 == 0:
            completed = f"2026-05-0{3 + index % 2}T00:00:00Z"
            update = {"status": ExecutionStatus.COMPLETED, "completedAt": completed}
            execution = await store.executions.save(execution.model_copy(update=update))
        made.append(execution)
    for sort_by, sort_order in [("startedAt", "ASC"), ("startedAt", "DESC"), ("completedAt", "DESC")]:
        for workflow_id, status in [(None, None), ("wf-1", None), (None, "completed"), (None, "pending")]:
            expected = sorted(
                (
                    e
                    for e in made
                    if (workflow_id is None or e.workflowId == workflow_id)
                    and (status is None or e.status == status)
                    and (sort_by != "completedAt" or e.completedAt is not None)
                ),
                key=lambda e, sort_by=sort_by: (getattr(e, sort_by), e.id),
                reverse=sort_order == "DESC",
            )
            seen: list[Execution] = []
            after: tuple[str, str] | None = None
            while True:
                query = ExecutionQuery(2, sort_by, sort_order, workflow_id, status, after)
                page = await store.executions.list(query)
                seen.extend(page.items)
                if not page.has_more:
                    break
                after = (getattr(page.items[-1], sort_by), page.items[-1].id)
            assert seen == expected, (sort_by, sort_order, workflow_id, status)


# -------------------------------------------------------------------------------------- outbox, audit


async def test_the_outbox_keeps_commit_order_and_an_event_once(store: Store) -> None:
    events = [event(f"r{i}") for i in range(4)]
    await store.workflows.create(make_workflow("one"), events[:2])
    await store.workflows.create(make_workflow("two"), [events[2], events[0], events[3]])
    assert [e.event_id for e in await store.audit.staged(10)] == [e.event_id for e in events]
    assert await store.audit.staged(2) == events[:2]
    with pytest.raises(Conflict):
        await store.workflows.create(make_workflow("one"), [event("not kept")])
    assert await store.audit.staged(10) == events


async def test_append_chains_records_and_unstages_atomically(store: Store) -> None:
    assert await store.audit.head() == (0, None)
    staged = [event("a"), event("b")]
    await store.workflows.create(make_workflow("staged"), staged)
    records = sealed(staged)
    await store.audit.append(records, [e.event_id for e in staged])
    assert await store.audit.head() == (2, records[-1]["hash"])
    assert await store.audit.staged(10) == []

    late = event("c")
    await store.workflows.create(make_workflow("late"), [late])
    clash = sealed([late], first=2, previous=records[0]["hash"])
    with pytest.raises(StateChanged):
        await store.audit.append(clash, [late.event_id])
    assert await store.audit.staged(10) == [late]  # the unstage was undone with the failed append
    duplicate_id = sealed([staged[0]], first=3, previous=records[-1]["hash"])
    with pytest.raises(StateChanged):
        await store.audit.append(duplicate_id)
    assert await store.audit.head() == (2, records[-1]["hash"])

    await store.audit.append(sealed([late], first=3, previous=records[-1]["hash"]), [late.event_id])
    assert await store.audit.sequences_of([]) == {}
    assert await store.audit.sequences_of([staged[1].event_id, late.event_id, "nope"]) == {
        staged[1].event_id: 2,
        late.event_id: 3,
    }
    assert await store.audit.get(staged[0].event_id) == records[0]
    assert await store.audit.get("nope") is None
    assert [r["sequence"] for r in await store.audit.up_to(2)] == [1, 2]


async def test_the_audit_log_is_listed_by_sequence_with_filters(store: Store) -> None:
    kinds = [
        AuditEvent("WORKFLOW_CREATED", AuditAction.CREATE, ResourceType.WORKFLOW, "w1"),
        AuditEvent("EXECUTION_STARTED", AuditAction.EXECUTE, ResourceType.EXECUTION, "e1"),
        AuditEvent(
            "EXECUTION_FAILED", AuditAction.EXECUTE, ResourceType.EXECUTION, "e1", result=AuditResult.FAILED
        ),
        AuditEvent("WORKFLOW_UPDATED", AuditAction.UPDATE, ResourceType.WORKFLOW, "w1"),
        AuditEvent("EXECUTION_STARTED", AuditAction.EXECUTE, ResourceType.EXECUTION, "e2"),
    ]
    records = sealed(kinds)
    await store.audit.append(records)

    async def sequences(**fields: Any) -> list[int]:
        return [r["sequence"] for r in (await store.audit.list(AuditQuery(**fields))).items]

    assert await sequences() == [5, 4, 3, 2, 1]
    assert await sequences(sort_order="ASC") == [1, 2, 3, 4, 5]
    assert await sequences(event_type="EXECUTION_STARTED") == [5, 2]
    assert await sequences(action="EXECUTE", result="FAILED") == [3]
    assert await sequences(resource_type="workflow", resource_id="w1") == [4, 1]
    assert await sequences(resource_id="") == [5, 4, 3, 2, 1]  # an empty filter is none
    timestamps = [r["timestamp"] for r in records]
    assert await sequences(date_from=timestamps[1], date_to=timestamps[3]) == [4, 3, 2]
    assert await sequences(after=4, limit=2) == [3, 2]
    assert await sequences(after=2, sort_order="ASC") == [3, 4, 5]
    first = await store.audit.list(AuditQuery(limit=2))
    assert (len(first.items), first.has_more) == (2, True)
    last = await store.audit.list(AuditQuery(limit=2, after=2))
    assert ([r["sequence"] for r in last.items], last.has_more) == ([1], False)


# ------------------------------------------------------------------------------------------- isolation


async def test_what_goes_in_and_comes_out_shares_nothing_with_what_is_stored(store: Store) -> None:
    workflow = make_workflow("isolated")
    created = await store.workflows.create(workflow)
    workflow.metadata["team"] = "changed by the caller"
    read = await store.workflows.get(created.id)
    assert read is not None and read.metadata == {"team": "compliance"}
    read.metadata["team"] = "changed again"
    read.nodes.clear()
    again = await store.workflows.get(created.id)
    assert again is not None and again.metadata == {"team": "compliance"} and again.nodes

    execution, _ = await store.executions.create_or_get(make_execution())
    execution.inputData["amount"] = 99
    stored = await store.executions.get(execution.id)
    assert stored is not None and stored.inputData == {"amount": 10}

    item = event("isolated")
    item.metadata["k"] = "v"
    await store.workflows.create(make_workflow("staging"), [item])
    item.metadata["k"] = "changed"
    (staged,) = await store.audit.staged(1)
    assert staged.metadata == {"k": "v"}
    records = sealed([staged])
    await store.audit.append(records, [staged.event_id])
    records[0]["eventType"] = "TAMPERED"
    chained = await store.audit.get(staged.event_id)
    assert chained is not None and chained["eventType"] == "EXECUTION_STARTED"
    chained["eventType"] = "TAMPERED"
    assert (await store.audit.up_to(1))[0]["eventType"] == "EXECUTION_STARTED"


# ------------------------------------------------------------------- starts from a cached definition


async def _active_workflow(store: Store) -> Any:
    return await store.workflows.create(make_workflow(f"cached {uuid.uuid4()}", status=WorkflowStatus.ACTIVE))


async def test_a_start_at_the_current_revision_of_an_active_workflow_is_inserted(store: Store) -> None:
    workflow = await _active_workflow(store)
    execution, created = await store.executions.create_or_get(
        make_execution(workflow_id=workflow.id), workflow.revision
    )
    assert created and await store.executions.get(execution.id) == execution


async def test_a_start_from_a_stale_revision_or_an_inactive_workflow_inserts_nothing(store: Store) -> None:
    workflow = await _active_workflow(store)
    deactivated = await store.workflows.replace(
        workflow.model_copy(update={"status": WorkflowStatus.INACTIVE})
    )
    for revision in (workflow.revision, deactivated.revision):  # stale; current but inactive
        candidate = make_execution(workflow_id=workflow.id)
        with pytest.raises(WorkflowChanged):
            await store.executions.create_or_get(candidate, revision)
        assert await store.executions.get(candidate.id) is None
        assert await store.executions.find_by_key(candidate.idempotencyKey) is None
    with pytest.raises(WorkflowChanged):
        await store.executions.create_or_get(make_execution(workflow_id=str(uuid.uuid4())), 1)


async def test_a_key_already_held_is_answered_whatever_the_workflow_became(store: Store) -> None:
    workflow = await _active_workflow(store)
    first, _ = await store.executions.create_or_get(make_execution(workflow_id=workflow.id, key="k"))
    await store.workflows.replace(workflow.model_copy(update={"status": WorkflowStatus.INACTIVE}))
    again, created = await store.executions.create_or_get(
        make_execution(workflow_id=workflow.id, key="k"), workflow.revision
    )
    assert not created and again.id == first.id
