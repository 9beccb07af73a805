"""Drives one execution to its end: the Ray-free core that a supervisor actor hosts as an asyncio task.

The interpreter decides; the runner carries its decisions out — provider calls (concurrently for
parallel branches), the store write after every step, the audit events — and stops at the deadline
or, when cancelled, before the next step.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.faults import NO_PAUSES, PausePoints
from flowker.clock import Clock, iso, utc_now
from flowker.domain.audit import Actor, AuditAction, AuditEvent, AuditResult, ResourceType
from flowker.dsl.interpreter import Decision, Interpreter, Outcome
from flowker.dsl.run_state import ExecutionStatus, ExecutorCall, RunState
from flowker.store.ports import Store

log = logging.getLogger("flowker.runner")

CallExecutor = Callable[[CallRequest], Awaitable[CallResult]]
RecordAudit = Callable[[Sequence[AuditEvent]], Awaitable[None]]

_FINAL_EVENTS = {
    ExecutionStatus.COMPLETED: ("EXECUTION_COMPLETED", AuditAction.EXECUTE, AuditResult.SUCCESS),
    ExecutionStatus.FAILED: ("EXECUTION_FAILED", AuditAction.EXECUTE, AuditResult.FAILED),
    ExecutionStatus.CANCELLED: ("EXECUTION_CANCELLED", AuditAction.CANCEL, AuditResult.SUCCESS),
}


@dataclasses.dataclass(frozen=True)
class _Ending:
    """How a run ends: its outcome, and the last decision and events not yet written."""

    outcome: Outcome
    decision: Decision | None = None
    events: list[AuditEvent] = dataclasses.field(default_factory=list)


def call_idempotency_key(execution_id: str, node_id: str) -> str:
    """The ``Idempotency-Key`` a provider sees on every attempt of one step, across retries and restarts."""
    return f"{execution_id}:{node_id}"


def event_id(execution_id: str, event_type: str, step: int | None = None) -> str:
    """A deterministic id, so that a resumed run re-appending an event does not duplicate it."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"flowker:{execution_id}:{event_type}:{step or 0}"))


class ExecutionRunner:
    """Runs one execution; create one per run."""

    def __init__(
        self,
        store: Store,
        call_executor: CallExecutor,
        record_audit: RecordAudit,
        *,
        owner: str,
        lease_seconds: float,
        clock: Clock = utc_now,
        pauses: PausePoints = NO_PAUSES,
    ) -> None:
        self._store = store
        self._call = call_executor
        self._audit = record_audit
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._pauses = pauses
        self._cancel = asyncio.Event()
        #: Whether this runner took the execution's lease (until then, there is none to renew).
        self.holds_lease = False

    def cancel(self) -> None:
        """Stop before the next step: calls in flight finish and are recorded, no new one starts."""
        self._cancel.set()

    async def run(self, execution_id: str) -> ExecutionStatus | None:
        """Run (or resume) the execution; return its final status.

        ``None`` when there is nothing to run here: it is unknown, or another live supervisor holds it.
        """
        now = time.time()
        claimed = await self._store.executions.claim(
            execution_id, self._owner, now + self._lease_seconds, now
        )
        self.holds_lease = claimed
        # Read under the lease: the state may have moved while another runner held it.
        execution = await self._store.executions.get(execution_id)
        if execution is None or execution.is_terminal:
            return execution.status if execution else None
        if not claimed:
            return None
        remaining = (datetime.fromisoformat(execution.deadline) - self._clock()).total_seconds()
        self._execution = execution
        try:
            async with asyncio.timeout(max(remaining, 0.0)):
                ending = await self._drive(Interpreter(execution.workflow))
        except TimeoutError:
            ending = _Ending(Outcome(ExecutionStatus.FAILED, None, "execution timed out (deadline exceeded)"))
        # Outside the deadline: an ending that has begun is written whole.
        await self._persist(ending.decision, ending.events, outcome=ending.outcome)
        return ending.outcome.status

    async def _drive(self, interpreter: Interpreter) -> _Ending:
        execution = self._execution
        if execution.cancelRequested:
            return _Ending(Outcome(ExecutionStatus.CANCELLED, None, "cancelled before it started"))
        if execution.status == ExecutionStatus.PENDING:
            decision = interpreter.start(execution.inputData, iso(self._clock()))
            started = self._event("EXECUTION_STARTED", AuditAction.EXECUTE)
            if execution.startedBy:
                started = dataclasses.replace(started, actor=Actor.from_dict(execution.startedBy))
            if decision.outcome is not None:
                return _Ending(decision.outcome, decision, [started])
            await self._persist(
                decision, [started, *self._announce(decision.calls)], status=ExecutionStatus.RUNNING
            )
        else:
            state = RunState.from_dict(execution.runState or {})
            decision = Decision(state=state, steps=[], calls=interpreter.resume(state), outcome=None)
            await self._audit(self._announce(decision.calls))
        state = decision.state
        in_flight: dict[asyncio.Task[CallResult], tuple[ExecutorCall, str]] = {}
        calls = list(decision.calls)
        try:
            while True:
                if self._cancel.is_set():
                    calls = []
                    if not in_flight:
                        return _Ending(Outcome(ExecutionStatus.CANCELLED, None, "cancelled"))
                for call in calls:
                    await self._pauses.reach("before_call", f"{self._execution.id}-{call.step_number}")
                    call_task = asyncio.create_task(self._call(self._request(call)))
                    in_flight[call_task] = (call, iso(self._clock()))
                calls = []
                waiter = asyncio.create_task(self._cancel.wait())
                done, _ = await asyncio.wait([*in_flight, waiter], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                for task in done:
                    if task is waiter:
                        continue
                    call, started_at = in_flight.pop(task)  # type: ignore[arg-type]
                    await self._pauses.reach("after_call", f"{self._execution.id}-{call.step_number}")
                    decision, event = self._interpret(interpreter, state, call, started_at, task.result())
                    state = decision.state
                    if decision.outcome is not None:
                        return _Ending(decision.outcome, decision, [event])
                    # The call's result and the next calls' start go to the chain before the state that
                    # depends on them: one audit append and one store write per step.
                    await self._persist(decision, [event, *self._announce(decision.calls)])
                    calls.extend(decision.calls)
        finally:
            for task in in_flight:
                task.cancel()

    def _interpret(
        self,
        interpreter: Interpreter,
        state: RunState,
        call: ExecutorCall,
        started_at: str,
        result: CallResult,
    ) -> tuple[Decision, AuditEvent]:
        now = iso(self._clock())
        if result.ok and result.response is not None:
            decision = interpreter.call_succeeded(
                state,
                call.node_id,
                result.response,
                started_at,
                result.duration_ms,
                now,
                halt=self._cancel.is_set(),
            )
            return decision, self._call_event("PROVIDER_CALL_COMPLETED", call, AuditResult.SUCCESS, result)
        message = result.error or "executor call failed"
        decision = interpreter.call_failed(
            state, call.node_id, message, started_at, result.duration_ms, now, output=result.response
        )
        return decision, self._call_event("PROVIDER_CALL_FAILED", call, AuditResult.FAILED, result)

    def _announce(self, calls: Sequence[ExecutorCall]) -> list[AuditEvent]:
        return [self._call_event("PROVIDER_CALL_STARTED", call, AuditResult.SUCCESS) for call in calls]

    async def _persist(
        self,
        decision: Decision | None,
        events: Sequence[AuditEvent],
        *,
        status: ExecutionStatus | None = None,
        outcome: Outcome | None = None,
    ) -> None:
        """Append ``events`` (and the final event of ``outcome``), then write the decision in one transaction.

        Events go first: once the store says a step or the run ended, its audit record exists. A crash
        in between makes a resumed run append the same events again, which the chain ignores (same ids).
        The write is a check-and-set: a runner that is no longer the execution's stops here.
        """
        execution = self._execution
        update: dict[str, Any] = {}
        if decision is not None:
            update["runState"] = decision.state.to_dict()
            update["currentStepNumber"] = execution.currentStepNumber + len(decision.steps)
        if status is not None:
            update["status"] = status
        if outcome is not None:
            event_type, action, result = _FINAL_EVENTS[outcome.status]
            metadata: dict[str, Any] = {"workflowId": execution.workflowId}
            if outcome.error_message:
                metadata["error"] = outcome.error_message
            events = [*events, self._event(event_type, action, result, metadata)]
            update.update(
                status=outcome.status,
                completedAt=iso(self._clock()),
                finalOutput=outcome.final_output,
                errorMessage=outcome.error_message,
            )
        if events:
            await self._audit(events)
        self._execution = await self._store.executions.save(
            execution.model_copy(update=update), decision.steps if decision else ()
        )

    def _request(self, call: ExecutorCall) -> CallRequest:
        return CallRequest(
            executor_config_id=call.executor_config_id,
            endpoint_name=call.endpoint_name,
            body=call.body,
            idempotency_key=call_idempotency_key(self._execution.id, call.node_id),
            request_id=self._execution.id,
        )

    def _event(
        self,
        event_type: str,
        action: AuditAction,
        result: AuditResult = AuditResult.SUCCESS,
        metadata: dict[str, Any] | None = None,
        step: int | None = None,
    ) -> AuditEvent:
        return AuditEvent(
            event_id=event_id(self._execution.id, event_type, step),
            event_type=event_type,
            action=action,
            result=result,
            resource_type=ResourceType.EXECUTION,
            resource_id=self._execution.id,
            metadata=metadata or {"workflowId": self._execution.workflowId},
        )

    def _call_event(
        self, event_type: str, call: ExecutorCall, result: AuditResult, outcome: CallResult | None = None
    ) -> AuditEvent:
        metadata: dict[str, Any] = {
            "workflowId": self._execution.workflowId,
            "nodeId": call.node_id,
            "stepNumber": call.step_number,
            "executorConfigId": call.executor_config_id,
            "endpointName": call.endpoint_name,
        }
        if outcome is not None:
            metadata["attempts"] = outcome.attempts
            metadata["durationMs"] = outcome.duration_ms
            if outcome.response is not None:
                metadata["statusCode"] = outcome.response.get("status")
            if outcome.error:
                metadata["error"] = outcome.error
        return self._event(event_type, AuditAction.EXECUTE, result, metadata, step=call.step_number)
