"""The runner without Ray: the real embedded store, scripted provider answers, events collected in a list."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.runner import ExecutionRunner
from flowker.clock import iso, utc_now
from flowker.domain.audit import AuditEvent
from flowker.domain.execution import Execution, request_hash
from flowker.dsl.model import WorkflowDefinition
from flowker.dsl.retry import NodeRetry
from flowker.dsl.run_state import ExecutionStatus
from flowker.errors import StateChanged
from flowker.store.embedded import EmbeddedStore
from flowker.store.ports import StartLease

LEASE = 15.0


def definition(steps: Sequence[str], retry: dict[str, Any] | None = None) -> WorkflowDefinition:
    """trigger → executor steps in a line (config ``cfg``, endpoint = node id, ``data.retry`` if given)."""
    extra = {} if retry is None else {"retry": retry}
    nodes = [{"id": "start", "type": "trigger"}] + [
        {"id": step, "type": "executor", "data": {"executorConfigId": "cfg", "endpointName": step, **extra}}
        for step in steps
    ]
    chain = ["start", *steps]
    pairs = enumerate(itertools.pairwise(chain))
    edges = [{"id": f"e{i}", "source": a, "target": b} for i, (a, b) in pairs]
    return WorkflowDefinition.model_validate({"name": "runner", "nodes": nodes, "edges": edges})


async def created(
    store: EmbeddedStore,
    steps: Sequence[str],
    deadline_seconds: float = 60.0,
    retry: dict[str, Any] | None = None,
    lease: StartLease | None = None,
) -> Execution:
    """A new execution of ``steps``; with ``lease``, inserted already claimed (as a front door that runs
    it itself inserts it)."""
    now = utc_now()
    workflow_id = str(uuid.uuid4())
    workflow = definition(steps, retry)
    execution, _ = await store.executions.create_or_get(
        Execution(
            id=str(uuid.uuid4()),
            workflowId=workflow_id,
            workflow=workflow,
            idempotencyKey=str(uuid.uuid4()),
            requestHash=request_hash(workflow_id, {}),
            totalSteps=len(steps),
            startedAt=iso(now),
            deadline=iso(now + timedelta(seconds=deadline_seconds)),
        ),
        lease=lease,
    )
    return execution


class Provider:
    """Answers every call with ``answer`` (or raises ``error``), after ``delay`` seconds; counts calls."""

    def __init__(self, *, delay: float = 0.0, error: BaseException | None = None) -> None:
        self.delay = delay
        self.error = error
        self.calls: list[CallRequest] = []
        self.arrived = asyncio.Event()

    async def __call__(self, request: CallRequest) -> CallResult:
        self.calls.append(request)
        self.arrived.set()
        await asyncio.sleep(self.delay)
        if self.error is not None:
            raise self.error
        return CallResult(
            ok=True, attempts=1, duration_ms=1, response={"status": 200, "headers": {}, "body": {}}
        )


class Trail:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def __call__(self, events: Sequence[AuditEvent]) -> None:
        self.events.extend(events)

    def types(self) -> list[str]:
        return [e.event_type for e in self.events]


def runner(store: EmbeddedStore, provider: Provider, trail: Trail, owner: str = "sup-1") -> ExecutionRunner:
    return ExecutionRunner(store, provider, trail, owner=owner, lease_seconds=LEASE)


async def test_a_run_makes_each_call_once_and_commits_each_step_with_its_events(store: EmbeddedStore) -> None:
    execution = await created(store, ["a", "b"])
    provider, trail = Provider(), Trail()
    assert await runner(store, provider, trail).run(execution.id) == ExecutionStatus.COMPLETED
    assert [c.endpoint_name for c in provider.calls] == ["a", "b"]
    assert [c.idempotency_key for c in provider.calls] == [f"{execution.id}:a", f"{execution.id}:b"]
    assert trail.types() == [
        "EXECUTION_STARTED",
        "PROVIDER_CALL_STARTED",
        "PROVIDER_CALL_COMPLETED",
        "PROVIDER_CALL_STARTED",
        "PROVIDER_CALL_COMPLETED",
        "EXECUTION_COMPLETED",
    ]
    # Every event handed over was staged with its step: the outbox holds the same ones.
    assert [e.event_id for e in await store.audit.staged(100)] == [e.event_id for e in trail.events]


async def test_a_runner_holds_the_lease_from_its_claim_until_its_end_is_written(store: EmbeddedStore) -> None:
    execution = await created(store, ["a"])
    provider = Provider(delay=0.05)
    run = runner(store, provider, Trail())
    assert not run.holds_lease
    task = asyncio.create_task(run.run(execution.id))
    await provider.arrived.wait()
    assert run.holds_lease  # claimed: the supervisor renews it
    assert await task == ExecutionStatus.COMPLETED
    # Ended: the store holds no lease for it, and the supervisor must not take that for a lost race.
    assert not run.holds_lease
    assert await store.executions.renew("sup-1", [execution.id], 1e12) == {execution.id}


async def test_a_nodes_retry_policy_reaches_the_executor_with_its_call(store: EmbeddedStore) -> None:
    execution = await created(store, ["a"], retry={"maxAttempts": 2, "retryOn": [503]})
    provider = Provider()
    assert await runner(store, provider, Trail()).run(execution.id) == ExecutionStatus.COMPLETED
    assert [c.retry for c in provider.calls] == [NodeRetry(max_attempts=2, retry_on=(503,))]


async def test_an_exception_from_a_call_fails_the_run_once(store: EmbeddedStore) -> None:
    execution = await created(store, ["a", "b"])
    provider, trail = Provider(error=RuntimeError("boom\nsecond line")), Trail()
    assert await runner(store, provider, trail).run(execution.id) == ExecutionStatus.FAILED
    failed = await store.executions.get(execution.id)
    assert failed is not None and failed.errorMessage == "internal error: RuntimeError: boom"
    assert len(provider.calls) == 1
    assert trail.types() == ["EXECUTION_STARTED", "PROVIDER_CALL_STARTED", "EXECUTION_FAILED"]
    # Ended, it holds no lease: no supervisor adopts it (a claim is refused).
    assert not await store.executions.claim(execution.id, "sup-2", 1e12, 1e12)


async def test_a_definition_that_cannot_run_fails_without_a_call(store: EmbeddedStore) -> None:
    execution = await created(store, ["a"])
    provider = Provider()
    # The workflow snapshot is written once, at creation: make it one that cannot run (no trigger).
    await store.db.write(
        lambda conn: conn.execute(
            "UPDATE executions SET workflow = ? WHERE id = ?",
            (b'{"name": "x", "nodes": [], "edges": []}', execution.id),
        )
    )
    assert await runner(store, provider, Trail()).run(execution.id) == ExecutionStatus.FAILED
    failed = await store.executions.get(execution.id)
    assert failed is not None and "exactly one trigger" in (failed.errorMessage or "")
    assert provider.calls == []


async def test_a_runner_that_lost_its_lease_stops_and_records_nothing(store: EmbeddedStore) -> None:
    execution = await created(store, ["a", "b"])
    provider, trail = Provider(delay=0.5), Trail()
    first = asyncio.create_task(runner(store, provider, trail, owner="sup-1").run(execution.id))
    await provider.arrived.wait()
    # Its lease expires and another supervisor takes the run up, while its call is in flight.
    await store.db.write(
        lambda conn: conn.execute("UPDATE executions SET lease_expires = 0 WHERE id = ?", (execution.id,))
    )
    assert await store.executions.claim(execution.id, "sup-2", 1e12, 1.0)
    with pytest.raises(StateChanged):
        await first
    assert "PROVIDER_CALL_COMPLETED" not in trail.types()
    stored = await store.executions.get(execution.id)
    assert stored is not None and stored.currentStepNumber == 0 and stored.attempts == 2
    assert await store.executions.steps(execution.id) == []


async def test_a_cancel_during_the_last_call_completes_the_run(store: EmbeddedStore) -> None:
    execution = await created(store, ["a"])
    provider, trail = Provider(delay=0.3), Trail()
    run = runner(store, provider, trail)
    task = asyncio.create_task(run.run(execution.id))
    await provider.arrived.wait()
    run.cancel()
    assert await task == ExecutionStatus.COMPLETED
    assert len(provider.calls) == 1


async def test_a_cancel_before_the_next_step_cancels_the_run_with_the_call_recorded(
    store: EmbeddedStore,
) -> None:
    execution = await created(store, ["a", "b"])
    provider, trail = Provider(delay=0.3), Trail()
    run = runner(store, provider, trail)
    task = asyncio.create_task(run.run(execution.id))
    await provider.arrived.wait()
    run.cancel()
    assert await task == ExecutionStatus.CANCELLED
    assert [c.endpoint_name for c in provider.calls] == ["a"]
    assert [s.node_id for s in await store.executions.steps(execution.id)] == ["a"]
    assert trail.types()[-2:] == ["PROVIDER_CALL_COMPLETED", "EXECUTION_CANCELLED"]


async def test_a_run_taken_up_too_often_is_given_up_without_a_call(store: EmbeddedStore) -> None:
    execution = await created(store, ["a"])
    for attempt in range(5):
        assert await store.executions.claim(execution.id, f"dead-{attempt}", 0.0, 1e12)
    provider, trail = Provider(), Trail()
    assert await runner(store, provider, trail).run(execution.id) == ExecutionStatus.FAILED
    failed = await store.executions.get(execution.id)
    assert failed is not None and (failed.errorMessage or "").startswith("given up after 5 attempts")
    assert provider.calls == []
    assert trail.events[-1].actor.type == "system"


async def test_the_deadline_fails_the_run(store: EmbeddedStore) -> None:
    execution = await created(store, ["a"], deadline_seconds=0.2)
    provider = Provider(delay=5.0)
    assert await runner(store, provider, Trail()).run(execution.id) == ExecutionStatus.FAILED
    failed = await store.executions.get(execution.id)
    assert failed is not None and failed.errorMessage == "execution timed out (deadline exceeded)"


class SlowAnswers:
    """The store, but each execution write's answer comes ``delay`` seconds after it was committed (as
    when the deadline cancels a runner while the store's thread commits its write)."""

    def __init__(self, store: EmbeddedStore, delay: float) -> None:
        self._store, self._delay = store, delay
        self.executions = self
        self.saved = 0

    def __getattr__(self, name: str) -> Any:
        inner = self._store.executions
        return getattr(inner, name) if hasattr(inner, name) else getattr(self._store, name)

    async def save(self, *args: Any, **kwargs: Any) -> Execution:
        written = await self._store.executions.save(*args, **kwargs)
        self.saved += 1
        await asyncio.sleep(self._delay)
        return written


async def test_a_deadline_that_falls_while_a_step_is_being_written_still_ends_the_run(
    store: EmbeddedStore,
) -> None:
    """The write the deadline interrupted was committed: the runner learns its outcome before it stops,
    so that the ending it writes next is not refused as a lost race (which left the run 'running')."""
    execution = await created(store, ["a"], deadline_seconds=0.1)
    slow = SlowAnswers(store, delay=0.5)
    provider = Provider()
    outcome = await ExecutionRunner(slow, provider, Trail(), owner="sup-1", lease_seconds=LEASE).run(
        execution.id
    )
    assert outcome == ExecutionStatus.FAILED
    failed = await store.executions.get(execution.id)
    assert failed is not None and failed.status == ExecutionStatus.FAILED
    assert failed.errorMessage == "execution timed out (deadline exceeded)"
    assert slow.saved == 2 and provider.calls == []  # started, then failed; the step was never called
