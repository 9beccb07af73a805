"""One execution's step timeline, as the operator console shows it: every step recorded so far (also while
it runs), what each executor step sent and received, how many attempts its call took, and which calls are in
flight — values under credential-like keys masked.

Attempts come from the execution's ``PROVIDER_CALL_COMPLETED`` / ``PROVIDER_CALL_FAILED`` audit events (the
audit trail is where a call's attempts are recorded); what a step sent is recomputed from the run's stored
context, which is what its input mapping read (see :meth:`Interpreter.step_input`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import suppress
from typing import Any

from flowker.domain.execution import Execution
from flowker.domain.sensitive import mask_sensitive
from flowker.dsl.interpreter import Interpreter
from flowker.dsl.mappings import MappingApplyError
from flowker.dsl.model import NodeType
from flowker.dsl.run_state import RunState, StepRecord
from flowker.errors import BadRequest

#: The audit events that end a provider call and say how many attempts it took.
CALL_ENDINGS = ("PROVIDER_CALL_COMPLETED", "PROVIDER_CALL_FAILED")


def call_attempts(events: Iterable[Mapping[str, Any]]) -> dict[int, dict[str, Any]]:
    """Step number -> ``{attempts, repeat}`` of its last recorded call ending (a repeat after a crash
    replaces the first: it is the one whose result the step holds)."""
    found: dict[int, dict[str, Any]] = {}
    for event in events:
        metadata = event.get("metadata") or {}
        step = metadata.get("stepNumber")
        if event.get("eventType") in CALL_ENDINGS and isinstance(step, int):
            found[step] = {"attempts": metadata.get("attempts"), "repeat": bool(metadata.get("repeat"))}
    return found


def build_timeline(
    execution: Execution, steps: Sequence[StepRecord], events: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """The ``ExecutionTimelineOutput`` of ``execution`` from its step records and its audit events."""
    definition = execution.workflow
    kinds = {node.id: node.type for node in definition.nodes}
    state = RunState.from_dict(execution.runState) if execution.runState else None
    interpreter = _interpreter(execution) if state is not None else None
    attempts = call_attempts(events)
    rows: list[dict[str, Any]] = []
    for step in steps:
        row = step.to_dict()
        kind = kinds.get(step.node_id)
        row["nodeType"] = str(kind) if kind is not None else "unknown"
        if kind == NodeType.EXECUTOR:
            row.update(attempts.get(step.step_number, {}))
            if interpreter is not None and state is not None:
                # A mapping that failed sent nothing: the step's error says why.
                with suppress(MappingApplyError, KeyError):
                    row["input"] = interpreter.step_input(state.context, step.node_id)
        for key in ("input", "output"):
            if key in row:
                row[key] = mask_sensitive(row[key])
        rows.append(row)
    out: dict[str, Any] = {
        "executionId": execution.id,
        "workflowId": execution.workflowId,
        "status": execution.status.value,
        "currentStepNumber": execution.currentStepNumber,
        "totalSteps": execution.totalSteps,
        "startedAt": execution.startedAt,
        "steps": rows,
        "inFlight": sorted(state.running, key=state.running.__getitem__) if state else [],
    }
    if definition.name:
        out["workflowName"] = definition.name
    if execution.completedAt:
        out["completedAt"] = execution.completedAt
    if execution.errorMessage:
        out["errorMessage"] = execution.errorMessage
    return out


def _interpreter(execution: Execution) -> Interpreter | None:
    try:
        return Interpreter(execution.workflow)
    except BadRequest:  # A definition stored before a rule it breaks: the steps are shown without inputs.
        return None
