"""Drives one execution to its end: the Ray-free core that a supervisor actor hosts as an asyncio task.

The interpreter decides; the runner carries its decisions out — provider calls (concurrently for
parallel branches), one store write after every step with the step's audit events in it, and the
ending — and stops at the deadline or, when cancelled, before the next step.

Safe by construction:

- A run ends once. Whatever goes wrong inside it — a bug, a definition that does not compile, a step
  that cannot be stored, a call that raised — ends it ``failed`` with a readable reason; it is never
  left ``running`` for a supervisor to adopt and call the provider again. Only a lost lease (another
  runner owns the execution now) leaves it, and only a run taken up too often (``MAX_RUN_ATTEMPTS``:
  its process keeps dying) is given up.
- Nothing is recorded that did not happen: a step's audit events are committed with the step, so a
  result the store refused (a lost lease, a crash) is recorded nowhere; a call repeated after a crash
  is recorded again, as a repeat, with the attempt that made it.
- Every write is fenced by the lease: a runner whose lease expired or was taken cannot commit.
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
from flowker.domain.audit import SYSTEM, Actor, AuditAction, AuditEvent, AuditResult, ResourceType
from flowker.domain.execution import Execution
from flowker.dsl.interpreter import Decision, Interpreter, Outcome
from flowker.dsl.interpreter_cache import InterpreterCache
from flowker.dsl.run_state import ExecutionStatus, ExecutorCall, RunState
from flowker.errors import StateChanged
from flowker.store.ports import Store
from flowker.telemetry import catalog, logs, tracing
from flowker.telemetry.recorder import RECORDER
from flowker.tunables import INTERPRETER_CACHE_SIZE, MAX_REASON_CHARS, MAX_RUN_ATTEMPTS
from flowker.usecases.outbox import publish

log = logging.getLogger("flowker.runner")

#: This process's compiled definitions, shared by its runs (an interpreter holds no run state).
INTERPRETERS = InterpreterCache(INTERPRETER_CACHE_SIZE)

CallExecutor = Callable[[CallRequest], Awaitable[CallResult]]
RecordAudit = Callable[[Sequence[AuditEvent]], Awaitable[object]]


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
    #: Who ended it, when not the one who started it (a cancel's requester, the system giving up).
    actor: Actor | None = None


def call_idempotency_key(execution_id: str, node_id: str) -> str:
    """The ``Idempotency-Key`` a provider sees on every attempt of one step, across retries and restarts."""
    return f"{execution_id}:{node_id}"


def event_id(execution_id: str, event_type: str, step: int | None = None, attempt: int = 1) -> str:
    """A deterministic id: an event staged twice by one attempt is one event; another attempt's is new."""
    suffix = "" if attempt <= 1 else f":{attempt}"
    name = f"flowker:{execution_id}:{event_type}:{step or 0}{suffix}"
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


def describe(error: BaseException) -> str:
    """An operator's reading of an unexpected exception: its class and the first line of its message."""
    # An exception raised in another actor arrives wrapped (Ray's RayTaskError): name what was raised.
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        error = cause
    lines = str(error).strip().splitlines()
    text = lines[0].strip() if lines else ""
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


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
        max_attempts: int = MAX_RUN_ATTEMPTS,
    ) -> None:
        self._store = store
        self._call = call_executor
        self._audit = record_audit
        self._owner = owner
        self._lease_seconds = lease_seconds
        self._clock = clock
        self._pauses = pauses
        self._max_attempts = max_attempts
        self._cancel = asyncio.Event()
        #: Whether this runner holds the execution's lease: from its claim until its ending is written.
        self.holds_lease = False
        #: The nodes whose provider calls are in flight, by node id: their step numbers.
        self._calling: dict[str, int] = {}

    def describe(self) -> dict[str, Any] | None:
        """What this run is doing now (``GET /v1/runtime/executions``); None before it read its execution."""
        execution: Execution | None = getattr(self, "_execution", None)  # set once it is claimed
        if execution is None:
            return None
        return {
            "executionId": execution.id,
            "workflowId": execution.workflowId,
            "status": execution.status.value,
            "currentStepNumber": execution.currentStepNumber,
            "totalSteps": execution.totalSteps,
            "currentNodeIds": sorted(self._calling),
            "startedAt": execution.startedAt,
        }

    def cancel(self) -> None:
        """Stop before the next step: calls in flight finish and are recorded, no new one starts."""
        self._cancel.set()

    async def run(
        self, execution_id: str, trace: dict[str, str] | None = None, claimed: Execution | None = None
    ) -> ExecutionStatus | None:
        """Run (or resume) the execution; return its final status.

        ``None`` when there is nothing to run here: it is unknown, or another live supervisor holds it.
        ``trace``: the W3C context (``traceparent``) of the request that started it, for its spans.
        ``claimed``: the execution as inserted already claimed by this runner's owner (a front door that
        runs what it starts): no claim is made.

        Raises:
            StateChanged: The lease was lost: another runner owns the execution now.
        """
        logs.EXECUTION_ID.set(execution_id)  # this run's task, and the tasks it makes
        with tracing.tracer().start_as_current_span(
            tracing.EXECUTE,
            context=tracing.parent(trace),
            attributes={"flowker.execution_id": execution_id, "flowker.supervisor": self._owner},
        ) as span:
            status = await self._run(execution_id, claimed)
            span.set_attribute("flowker.status", status.value if status else "not run here")
            return status

    async def _run(self, execution_id: str, claimed: Execution | None) -> ExecutionStatus | None:
        execution = claimed
        if execution is None:
            now = time.time()
            # Read with the claim, under the lease: the state may have moved while another runner held it.
            execution = await self._store.executions.claim(
                execution_id, self._owner, now + self._lease_seconds, now
            )
        self.holds_lease = execution is not None
        if execution is None:
            # Not claimable: ended (its status is the answer), unknown, or another live runner's.
            found = await self._store.executions.get(execution_id)
            return found.status if found is not None and found.is_terminal else None
        self._execution = execution
        self._starter = Actor.from_dict(execution.startedBy) if execution.startedBy else SYSTEM
        ending = await self._guarded()
        await self._end(ending)
        RECORDER.inc(catalog.EXECUTIONS_FINISHED, execution.workflowId, self._execution.status.value)
        return ending.outcome.status

    async def _guarded(self) -> _Ending:
        """Drive the run; whatever goes wrong but a lost lease becomes a failed ending."""
        execution = self._execution
        if execution.attempts > self._max_attempts:
            return _Ending(
                Outcome(
                    ExecutionStatus.FAILED,
                    None,
                    f"given up after {self._max_attempts} attempts to run it: its supervisor stopped"
                    " each time before it ended",
                ),
                actor=SYSTEM,
            )
        remaining = (datetime.fromisoformat(execution.deadline) - self._clock()).total_seconds()
        deadline = asyncio.timeout(max(remaining, 0.0))
        try:
            async with deadline:
                return await self._drive()
        except TimeoutError:
            if not deadline.expired():
                return self._unexpected(TimeoutError("an operation timed out"))
            return _Ending(Outcome(ExecutionStatus.FAILED, None, "execution timed out (deadline exceeded)"))
        except StateChanged:
            raise
        except Exception as exc:
            return self._unexpected(exc)

    def _unexpected(self, error: Exception) -> _Ending:
        log.error("execution %s: unexpected error; it fails", self._execution.id, exc_info=error)
        return _Ending(Outcome(ExecutionStatus.FAILED, None, f"internal error: {describe(error)}"))

    async def _end(self, ending: _Ending) -> None:
        """Write the ending (outside the deadline: an ending that has begun is written whole).

        When the last decision cannot be written (a result that cannot be stored), the run still ends
        ``failed``, from its last written state.
        """
        actor = ending.actor
        if ending.outcome.status == ExecutionStatus.CANCELLED and actor is None:
            current = await self._store.executions.get(self._execution.id)
            requested = current.cancelRequestedBy if current else None
            actor = Actor.from_dict(requested) if requested else SYSTEM
        try:
            await self._persist(ending.decision, ending.events, outcome=ending.outcome, actor=actor)
        except StateChanged:
            raise
        except Exception as exc:
            if ending.decision is None and not ending.events:
                raise
            log.error(
                "execution %s: its ending cannot be written; it fails", self._execution.id, exc_info=exc
            )
            reason = f"internal error: the last step could not be recorded: {describe(exc)}"
            await self._persist(None, [], outcome=Outcome(ExecutionStatus.FAILED, None, reason))

    async def _drive(self) -> _Ending:
        execution = self._execution
        interpreter = INTERPRETERS.get(execution.workflow)
        if execution.status == ExecutionStatus.PENDING:
            if execution.cancelRequested:
                return _Ending(Outcome(ExecutionStatus.CANCELLED, None, "cancelled before it started"))
            decision = interpreter.start(execution.inputData, iso(self._clock()))
            started = self._event("EXECUTION_STARTED", AuditAction.EXECUTE)
            if decision.outcome is not None:
                return _Ending(decision.outcome, decision, [started])
            await self._persist(
                decision, [started, *self._announce(decision.calls)], status=ExecutionStatus.RUNNING
            )
            RECORDER.inc(catalog.EXECUTIONS_STARTED, execution.workflowId)
        else:
            state = RunState.from_dict(execution.runState or {})
            decision = Decision(state=state, steps=[], calls=interpreter.resume(state), outcome=None)
            steps = ", ".join(str(call.step_number) for call in decision.calls)
            if execution.cancelRequested:
                # Not sent again: whether the calls in flight reached the provider is unknown.
                reason = "cancelled" + (
                    f"; the outcome of the call of step {steps} is unknown" if steps else ""
                )
                return _Ending(Outcome(ExecutionStatus.CANCELLED, None, reason))
            resumed = self._event(
                "EXECUTION_RESUMED",
                AuditAction.EXECUTE,
                metadata={"workflowId": execution.workflowId, "runAttempt": execution.attempts},
                actor=SYSTEM,
            )
            await self._persist(None, [resumed, *self._announce(decision.calls, repeat=True)])
        return await self._steps(interpreter, decision)

    async def _steps(self, interpreter: Interpreter, decision: Decision) -> _Ending:
        """Make the calls, apply their results, until the run has an outcome."""
        state = decision.state
        pending = list(decision.calls)
        in_flight: dict[asyncio.Task[CallResult], tuple[ExecutorCall, str]] = {}
        try:
            while True:
                # Every call written as started is made, even after a cancel: the cancel stops the
                # next decision, not one already recorded.
                for call in pending:
                    await self._pauses.reach("before_call", f"{self._execution.id}-{call.step_number}")
                    task = asyncio.create_task(self._traced_call(call))
                    in_flight[task] = (call, iso(self._clock()))
                pending = []
                if not in_flight:
                    raise RuntimeError("the run has no call in flight and no outcome")
                # Once cancelled, only the calls are waited for: a set event would wake this at once.
                cancelled = None if self._cancel.is_set() else asyncio.ensure_future(self._cancel.wait())
                waiting = [*in_flight, *([cancelled] if cancelled else [])]
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if cancelled is not None:
                    cancelled.cancel()
                for task in in_flight.keys() & done:
                    call, started_at = in_flight.pop(task)
                    await self._pauses.reach("after_call", f"{self._execution.id}-{call.step_number}")
                    decision, event = self._interpret(interpreter, state, call, started_at, task.result())
                    state = decision.state
                    if decision.outcome is not None:
                        return _Ending(decision.outcome, decision, [event])
                    # The call's result and the next calls' start are committed with the state that
                    # depends on them: one store write per step.
                    await self._persist(decision, [event, *self._announce(decision.calls)])
                    pending.extend(decision.calls)
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
        outcome = "success" if result.ok else "failure"
        RECORDER.observe(
            catalog.STEP_SECONDS, call.executor_config_id, outcome, value=result.duration_ms / 1000
        )
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

    def _announce(self, calls: Sequence[ExecutorCall], *, repeat: bool = False) -> list[AuditEvent]:
        return [
            self._call_event("PROVIDER_CALL_STARTED", call, AuditResult.SUCCESS, repeat=repeat)
            for call in calls
        ]

    async def _persist(
        self,
        decision: Decision | None,
        events: Sequence[AuditEvent],
        *,
        status: ExecutionStatus | None = None,
        outcome: Outcome | None = None,
        actor: Actor | None = None,
    ) -> None:
        """Write the decision and its events (and the final event of ``outcome``) in one transaction,
        then hand the events to the audit writer.

        The write is a check-and-set fenced by the lease: a runner that is no longer the execution's
        stops here (:class:`StateChanged`), and none of its events is recorded.
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
            events = [*events, self._event(event_type, action, result, metadata, actor=actor)]
            update.update(
                status=outcome.status,
                completedAt=iso(self._clock()),
                finalOutput=outcome.final_output,
                errorMessage=outcome.error_message,
            )
        saving = asyncio.ensure_future(
            self._store.executions.save(
                execution.model_copy(update=update),
                decision.steps if decision else (),
                events,
                lease_owner=self._owner,
                now=time.time(),
            )
        )
        try:
            self._execution = await asyncio.shield(saving)
        except asyncio.CancelledError:
            # The deadline (or a stop) fell while the write was on its way: it may commit all the same.
            # Learn its outcome before stopping, or the ending written next carries a stale revision, is
            # refused as a lost race, and the run stays 'running' for good.
            await asyncio.wait([saving])
            if not saving.cancelled() and saving.exception() is None:
                self._execution = saving.result()
            raise
        if self._execution.is_terminal:
            # An ended execution holds no lease: a reconcile round that finds it gone is not told of a
            # lost race.
            self.holds_lease = False
        await publish(self._audit, events)

    async def _traced_call(self, call: ExecutorCall) -> CallResult:
        with tracing.tracer().start_as_current_span(
            tracing.EXECUTE_NODE,
            attributes={
                "flowker.node_id": call.node_id,
                "flowker.step_number": call.step_number,
                "flowker.executor_config_id": call.executor_config_id,
            },
        ) as span:
            request = self._request(call)
            carrier = tracing.carrier()
            if carrier:
                request = dataclasses.replace(request, trace=carrier)
            self._calling[call.node_id] = call.step_number
            try:
                result = await self._call(request)
            finally:
                self._calling.pop(call.node_id, None)
            span.set_attribute("flowker.outcome", "ok" if result.ok else str(result.code))
            return result

    def _request(self, call: ExecutorCall) -> CallRequest:
        return CallRequest(
            executor_config_id=call.executor_config_id,
            endpoint_name=call.endpoint_name,
            body=call.body,
            idempotency_key=call_idempotency_key(self._execution.id, call.node_id),
            request_id=self._execution.id,
            retry=call.retry,
            route=call.route,
        )

    def _event(
        self,
        event_type: str,
        action: AuditAction,
        result: AuditResult = AuditResult.SUCCESS,
        metadata: dict[str, Any] | None = None,
        step: int | None = None,
        actor: Actor | None = None,
    ) -> AuditEvent:
        execution: Execution = self._execution
        return AuditEvent(
            event_id=event_id(execution.id, event_type, step, execution.attempts),
            event_type=event_type,
            action=action,
            result=result,
            resource_type=ResourceType.EXECUTION,
            resource_id=execution.id,
            # Events about the run carry who started it; the system's own actions say so.
            actor=actor or self._starter,
            metadata=metadata or {"workflowId": execution.workflowId},
        )

    def _call_event(
        self,
        event_type: str,
        call: ExecutorCall,
        result: AuditResult,
        outcome: CallResult | None = None,
        *,
        repeat: bool = False,
    ) -> AuditEvent:
        metadata: dict[str, Any] = {
            "workflowId": self._execution.workflowId,
            "nodeId": call.node_id,
            "stepNumber": call.step_number,
            "executorConfigId": call.executor_config_id,
            "endpointName": call.endpoint_name,
            "runAttempt": max(self._execution.attempts, 1),
        }
        if repeat:
            # Sent again after its supervisor stopped mid-call, with the same Idempotency-Key: the
            # provider may have received the first one.
            metadata["repeat"] = True
        if outcome is not None:
            metadata["attempts"] = outcome.attempts
            metadata["durationMs"] = outcome.duration_ms
            if outcome.response is not None:
                metadata["statusCode"] = outcome.response.get("status")
            if outcome.error:
                metadata["error"] = outcome.error
            if not outcome.ok:
                metadata["code"] = outcome.code
                metadata["mayHaveReachedProvider"] = outcome.may_have_reached
        return self._event(event_type, AuditAction.EXECUTE, result, metadata, step=call.step_number)
