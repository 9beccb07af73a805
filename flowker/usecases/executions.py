"""Executions: start (idempotently), read, list, results, cancel.

An execution is acknowledged (201) only once it is durably recorded. An ``Idempotency-Key`` is bound
to the workflow and the exact input: the same key with the same request returns the same execution,
with another request it is refused (409 FLK-0505) — decided by the store's unique key, not by a read,
so two racing requests cannot both create one.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any, NoReturn

from flowker.clock import Clock, iso, utc_now
from flowker.codes import (
    EXECUTION_ALREADY_ENDED,
    EXECUTION_NOT_ENDED,
    EXECUTION_NOT_FOUND,
    IDEMPOTENCY_KEY_REUSED,
    INVALID_IDEMPOTENCY_KEY,
    INVALID_UUID,
    WORKFLOW_NOT_ACTIVE,
    WORKFLOW_NOT_FOUND,
)
from flowker.domain.audit import SYSTEM, Actor, AuditAction, AuditEvent, ResourceType
from flowker.domain.execution import Execution, request_hash
from flowker.dsl.model import Workflow, WorkflowStatus
from flowker.dsl.run_state import ExecutionStatus
from flowker.errors import BadRequest, Conflict, NotFound, StateChanged, Unprocessable, WorkflowChanged
from flowker.store.ports import AuditQuery, ExecutionQuery, Page, Store
from flowker.telemetry import tracing
from flowker.tunables import START_ATTEMPTS, WAIT_RECHECK_SECONDS, WORKFLOW_CACHE_SIZE
from flowker.usecases.definition_cache import DefinitionCache
from flowker.usecases.execution_timeline import build_timeline
from flowker.usecases.outbox import publish, settle
from flowker.usecases.pagination import MAX_LIMIT, parse_page, parse_status
from flowker.usecases.ports import Runtime

MAX_IDEMPOTENCY_KEY = 255
_KEY = re.compile(r"^[\x21-\x7e]+$")
SORT_FIELDS = ("startedAt", "completedAt")


@dataclass(frozen=True)
class Started:
    """The execution a start request refers to, and whether this request created it."""

    execution: Execution
    created: bool


class Executions:
    """The execution use cases over a store and the actor runtime."""

    def __init__(
        self, store: Store, runtime: Runtime, timeout_seconds: float, clock: Clock = utc_now
    ) -> None:
        self._store = store
        self._runtime = runtime
        self._timeout = timedelta(seconds=timeout_seconds)
        self._clock = clock
        self._definitions = DefinitionCache(WORKFLOW_CACHE_SIZE)

    async def start(
        self,
        workflow_id: str,
        input_data: dict[str, Any],
        idempotency_key: str | None,
        actor: Actor = SYSTEM,
        *,
        bound_to: Any = None,
    ) -> Started:
        """Record a new execution and hand it to a supervisor, or return the one the key already names.

        The key is bound to the workflow and ``input_data``, or ``bound_to`` when given (a webhook's
        body: its ``_webhook`` metadata, headers and address, may differ between retries of one delivery).
        """
        key = (idempotency_key or "").strip()
        if not key:
            raise BadRequest("the Idempotency-Key header is required", code=INVALID_IDEMPOTENCY_KEY)
        if len(key) > MAX_IDEMPOTENCY_KEY or not _KEY.match(key):
            raise BadRequest(
                f"Idempotency-Key must be 1..{MAX_IDEMPOTENCY_KEY} printable ASCII characters",
                code=INVALID_IDEMPOTENCY_KEY,
            )
        fingerprint = request_hash(workflow_id, input_data if bound_to is None else bound_to)
        for _ in range(START_ATTEMPTS):
            workflow = self._definitions.get(workflow_id)
            if workflow is None:
                workflow = await self._store.workflows.get(workflow_id)
                if workflow is None or workflow.status != WorkflowStatus.ACTIVE:
                    # A replay of a start whose workflow has since gone away still finds its execution.
                    existing = await self._store.executions.find_by_key(key)
                    if existing is not None:
                        return self._same_request(existing, fingerprint)
                    _refuse(workflow_id, workflow)
                self._definitions.put(workflow)
            # Leased when this process runs it itself: the insert is its claim too.
            lease = self._runtime.start_lease()
            try:
                # One round trip: the key's lookup, the workflow's revision check and the insert.
                execution, created = await self._store.executions.create_or_get(
                    self._candidate(workflow, input_data, key, fingerprint, actor), workflow.revision, lease
                )
            except WorkflowChanged:  # changed since it was cached: read it again
                self._definitions.drop(workflow_id)
                continue
            if not created:
                return self._same_request(execution, fingerprint)
            with tracing.tracer().start_as_current_span(
                tracing.START_EXECUTION,
                attributes={"flowker.execution_id": execution.id, "flowker.workflow_id": workflow.id},
            ):
                await self._runtime.start(execution.id, execution if lease else None)
            return Started(execution, created=True)
        raise StateChanged(f"workflow {workflow_id}")

    def _candidate(
        self, workflow: Workflow, input_data: dict[str, Any], key: str, fingerprint: str, actor: Actor
    ) -> Execution:
        now = self._clock()
        definition = workflow.model_copy()
        return Execution(
            id=str(uuid.uuid4()),
            workflowId=workflow.id,
            inputData=input_data,
            workflow=definition,
            idempotencyKey=key,
            requestHash=fingerprint,
            totalSteps=self._definitions.total_steps(workflow),
            startedAt=iso(now),
            deadline=iso(now + self._timeout),
            startedBy=actor.to_dict(),
        )

    @staticmethod
    def _same_request(execution: Execution, fingerprint: str) -> Started:
        if execution.requestHash != fingerprint:
            raise Conflict(
                "this Idempotency-Key was used for another request (different workflow or input)",
                code=IDEMPOTENCY_KEY_REUSED,
            )
        return Started(execution, created=False)

    async def wait_for_end(self, started: Started, seconds: float) -> dict[str, Any] | None:
        """The results document if the execution ends within ``seconds`` (``Prefer: wait``), else ``None``.

        The runtime says when the execution ended (wherever it runs): the store is read then, and every
        :data:`WAIT_RECHECK_SECONDS` besides as a safety net, not polled.
        """
        execution = started.execution
        deadline = time.monotonic() + seconds
        while not execution.is_terminal:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            await self._runtime.wait(execution.id, min(left, WAIT_RECHECK_SECONDS))
            execution = await self.get(execution.id)
        return await self._results(execution)

    async def get(self, execution_id: str) -> Execution:
        """The execution, or 404 FLK-0500."""
        execution = await self._store.executions.get(execution_id)
        if execution is None:
            raise NotFound(f"execution {execution_id} not found", code=EXECUTION_NOT_FOUND)
        return execution

    async def list(self, params: Mapping[str, str]) -> tuple[Page[Execution], ExecutionQuery]:
        """One page of executions, filtered by ``workflowId`` and ``status``."""
        query = parse_execution_query(params)
        return await self._store.executions.list(query), query

    async def results(self, execution_id: str) -> dict[str, Any]:
        """``ExecutionResultsOutput``; 422 FLK-0502 until the execution has ended."""
        return await self._results(await self.get(execution_id))

    async def _results(self, execution: Execution) -> dict[str, Any]:
        execution_id = execution.id
        if not execution.is_terminal:
            raise Unprocessable(
                f"execution is {execution.status.value}; results exist once it has ended",
                code=EXECUTION_NOT_ENDED,
            )
        steps = await self._store.executions.steps(execution_id)
        out: dict[str, Any] = {
            "executionId": execution.id,
            "workflowId": execution.workflowId,
            "status": execution.status.value,
            "stepResults": [step.to_dict() for step in steps],
            "startedAt": execution.startedAt,
            "completedAt": execution.completedAt,
        }
        if execution.status == ExecutionStatus.COMPLETED:
            out["finalOutput"] = execution.finalOutput
        if execution.errorMessage:
            out["errorMessage"] = execution.errorMessage
        return out

    async def timeline(self, execution_id: str) -> dict[str, Any]:
        """``ExecutionTimelineOutput``: the steps so far with inputs, attempts and what is in flight."""
        execution = await self.get(execution_id)
        steps = await self._store.executions.steps(execution_id)
        if await self._store.audit.staged(1):
            await settle(self._runtime.drain)  # A step's call events are chained just after it.
        events: list[dict[str, Any]] = []
        query = AuditQuery(limit=MAX_LIMIT, sort_order="ASC", resource_id=execution.id)
        while True:
            page = await self._store.audit.list(query)
            events.extend(page.items)
            if not page.has_more or not page.items:
                break
            query = replace(query, after=page.items[-1]["sequence"])
        return build_timeline(execution, steps, events)

    async def cancel(self, execution_id: str, actor: Actor = SYSTEM) -> Execution:
        """Stop the execution before its next step; a pending one is cancelled at once.

        Audited with who asked: ``EXECUTION_CANCELLED`` for a pending execution, else
        ``EXECUTION_CANCEL_REQUESTED`` now and the run's own ending later (which may be ``completed``
        when its last step was already in flight).
        """
        execution = await self.get(execution_id)
        if execution.is_terminal:
            raise _already_ended(execution)
        if execution.status == ExecutionStatus.PENDING:
            cancelled = execution.model_copy(
                update={
                    "status": ExecutionStatus.CANCELLED,
                    "completedAt": iso(self._clock()),
                    "errorMessage": "cancelled before it started",
                }
            )
            event = _execution_event(execution, "EXECUTION_CANCELLED", actor, "cancelled before it started")
            try:
                saved = await self._store.executions.save(cancelled, events=[event])
            except StateChanged:
                pass  # its supervisor took it up meanwhile: it is running, so ask its runner
            else:
                await publish(self._runtime.record, [event])
                return saved
        requested = _execution_event(execution, "EXECUTION_CANCEL_REQUESTED", actor)
        if await self._store.executions.request_cancel(execution_id, actor.to_dict(), [requested]):
            await publish(self._runtime.record, [requested])
        else:
            current = await self.get(execution_id)
            if current.is_terminal:
                raise _already_ended(current)
            # Else a cancel was already asked for: asking again changes nothing.
        await self._runtime.cancel(execution_id)
        return await self.get(execution_id)


def _already_ended(execution: Execution) -> Unprocessable:
    return Unprocessable(f"execution already {execution.status.value}", code=EXECUTION_ALREADY_ENDED)


def _execution_event(
    execution: Execution, event_type: str, actor: Actor, error: str | None = None
) -> AuditEvent:
    metadata: dict[str, Any] = {"workflowId": execution.workflowId}
    if error:
        metadata["error"] = error
    return AuditEvent(
        event_type=event_type,
        action=AuditAction.CANCEL,
        resource_type=ResourceType.EXECUTION,
        resource_id=execution.id,
        actor=actor,
        metadata=metadata,
    )


def parse_execution_query(params: Mapping[str, str]) -> ExecutionQuery:
    """Filters ``workflowId`` and ``status``, then the paging every list has."""
    workflow_id = params.get("workflowId") or None
    if workflow_id is not None:
        try:
            workflow_id = str(uuid.UUID(workflow_id))
        except ValueError:
            raise BadRequest("workflowId is not a valid UUID", code=INVALID_UUID) from None
    page = parse_page(params, SORT_FIELDS)
    return ExecutionQuery(
        limit=page.limit,
        sort_by=page.sort_by,
        sort_order=page.sort_order,
        workflow_id=workflow_id,
        status=parse_status(params, [s.value for s in ExecutionStatus]),
        after=page.after,
    )


def _refuse(workflow_id: str, workflow: Workflow | None) -> NoReturn:
    if workflow is None:
        raise NotFound(f"workflow {workflow_id} not found", code=WORKFLOW_NOT_FOUND)
    raise Unprocessable(
        f"workflow is {workflow.status.value}; only an active workflow runs", code=WORKFLOW_NOT_ACTIVE
    )
