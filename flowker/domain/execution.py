"""An execution as stored: identity, status, the workflow it runs (snapshotted at start), its run state.

The snapshot matters: a workflow may be deactivated and edited while an execution runs; the
execution finishes with the definition it started with, and a resumed one too.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field

from flowker.dsl.model import WorkflowDefinition
from flowker.dsl.run_state import ExecutionStatus

TERMINAL = frozenset({ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED})


class Execution(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    workflowId: str
    status: ExecutionStatus = ExecutionStatus.PENDING
    inputData: dict[str, Any] = Field(default_factory=dict)
    workflow: WorkflowDefinition
    idempotencyKey: str
    requestHash: str
    totalSteps: int
    currentStepNumber: int = 0
    startedAt: str
    deadline: str
    completedAt: str | None = None
    errorMessage: str | None = None
    finalOutput: Any = None
    runState: dict[str, Any] | None = None
    cancelRequested: bool = False
    #: Who asked for the run (an API key's id and address), for its EXECUTION_STARTED audit event.
    startedBy: dict[str, str] | None = None
    #: Who asked for the cancel, once one was asked for.
    cancelRequestedBy: dict[str, str] | None = None
    #: How many times a runner took the execution up (1 unless a supervisor died or lost its lease).
    attempts: int = Field(default=0, exclude=True)
    revision: int = Field(default=0, exclude=True)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    def created_output(self) -> dict[str, Any]:
        """``ExecutionCreateOutput``."""
        return {
            "executionId": self.id,
            "workflowId": self.workflowId,
            "status": self.status.value,
            "startedAt": self.startedAt,
        }

    def status_output(self) -> dict[str, Any]:
        """``ExecutionStatusOutput``."""
        out = {
            **self.created_output(),
            "currentStepNumber": self.currentStepNumber,
            "totalSteps": self.totalSteps,
        }
        if self.completedAt:
            out["completedAt"] = self.completedAt
        if self.errorMessage:
            out["errorMessage"] = self.errorMessage
        return out


def request_hash(workflow_id: str, input_data: Any) -> str:
    """What an Idempotency-Key is bound to: the workflow and the exact input (canonical JSON)."""
    canonical = orjson.dumps(
        {"workflowId": workflow_id, "inputData": input_data}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()
