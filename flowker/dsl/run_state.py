"""The state of one execution as the interpreter sees it, and the records it hands out.

Everything here is a plain dataclass that converts to and from JSON-ready dicts: the supervisor
persists the run state after every step, and a crashed execution resumes from it in another process.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flowker.dsl.retry import NodeRetry


# The OpenAPI document shows this docstring.
class ExecutionStatus(StrEnum):
    """`pending --> running --> completed | failed | cancelled`; the last three are final.

    `failed` includes an execution that passed its deadline; `cancelled` one stopped by
    `POST /v1/executions/{id}/cancel`.
    """

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """Whether nothing can happen to an execution in this status any more."""
        return self in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


class StepStatus(StrEnum):
    COMPLETED = "completed"
    FAILED = "failed"


class NodeState(StrEnum):
    """Where a node of a run stands.

    ``cancelled`` is an executor node whose call was in flight (or about to start) when another node
    failed: the run ended without its result.
    """

    WAITING = "waiting"
    RUNNING = "running"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class StepRecord:
    """One node that ran, successfully or not.

    Attributes:
        step_number: 1-based, handed out when the node started.
        node_id: The node's id.
        step_name: The node's name, or ``"<type>_<id>"`` when it has none.
        status: How the step ended.
        output: What the node produced (for a failed call, what the provider answered), if anything.
        error_message: Why the step failed, for a failed step.
        executed_at: When the step started (RFC 3339).
        duration_ms: How long it took; 0 for nodes that do no I/O.
    """

    step_number: int
    node_id: str
    step_name: str
    status: StepStatus
    output: Any | None
    error_message: str | None
    executed_at: str
    duration_ms: int

    def to_dict(self) -> dict[str, Any]:
        """The API's step shape; ``output`` and ``errorMessage`` are left out when ``None``."""
        out: dict[str, Any] = {
            "stepNumber": self.step_number,
            "stepName": self.step_name,
            "nodeId": self.node_id,
            "status": self.status.value,
        }
        if self.output is not None:
            out["output"] = self.output
        if self.error_message is not None:
            out["errorMessage"] = self.error_message
        out["executedAt"] = self.executed_at
        out["durationMs"] = self.duration_ms
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StepRecord:
        """The record that :meth:`to_dict` produced ``data`` from."""
        return cls(
            step_number=data["stepNumber"],
            node_id=data["nodeId"],
            step_name=data["stepName"],
            status=StepStatus(data["status"]),
            output=data.get("output"),
            error_message=data.get("errorMessage"),
            executed_at=data["executedAt"],
            duration_ms=data["durationMs"],
        )


@dataclass(frozen=True)
class Route:
    """What an executor node in catalog form adds to its executor's request: the node's ``data.method``
    and ``data.path`` (the generic builder of reference 4.3) and the values its ``{placeholders}`` may
    be looked up under (the node's other scalar ``data``, before the request body)."""

    method: str | None = None
    path: str | None = None
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ExecutorCall:
    """A provider call the supervisor must make, then report with ``call_succeeded``/``call_failed``.

    Attributes:
        step_number: The step the call belongs to.
        node_id: The executor node making the call.
        executor_config_id: The executor configuration to call through.
        endpoint_name: The endpoint of that configuration.
        body: The request body.
        retry: The node's own retry policy (``data.retry``), when it has one.
        route: For a node in catalog form (``executorId`` + ``providerConfigId``, called through the
            provider configuration, ``endpoint_name`` being the catalog executor): its route.
    """

    step_number: int
    node_id: str
    executor_config_id: str
    endpoint_name: str
    body: Any
    retry: NodeRetry | None = None
    route: Route | None = None


@dataclass
class RunState:
    """Everything needed to carry on with a run, in this process or another.

    Attributes:
        context: ``{"workflow": <input data>, "<nodeId>": <output>, ...}``, in completion order.
        nodes: Every node's :class:`NodeState`, by node id.
        edges: Edge id -> whether it fired; an edge not yet resolved is absent.
        running: Executor node id -> step number of its call in flight.
        steps_taken: How many step numbers have been handed out.
        final_output: The output of the last ``set_output`` action that ran.
        has_final_output: Whether a ``set_output`` action ran (its output may itself be ``None``).
    """

    context: dict[str, Any]
    nodes: dict[str, NodeState]
    edges: dict[str, bool]
    running: dict[str, int]
    steps_taken: int
    final_output: Any | None
    has_final_output: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict that shares nothing with this state."""
        return {
            "context": copy.deepcopy(self.context),
            "nodes": {node: str(state) for node, state in self.nodes.items()},
            "edges": dict(self.edges),
            "running": dict(self.running),
            "stepsTaken": self.steps_taken,
            "finalOutput": copy.deepcopy(self.final_output),
            "hasFinalOutput": self.has_final_output,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        """The state that :meth:`to_dict` produced ``data`` from; shares nothing with ``data``.

        Raises:
            ValueError: A node state is not one of :class:`NodeState`.
        """
        return cls(
            context=copy.deepcopy(data["context"]),
            nodes={node: NodeState(state) for node, state in data["nodes"].items()},
            edges=dict(data["edges"]),
            running=dict(data["running"]),
            steps_taken=data["stepsTaken"],
            final_output=copy.deepcopy(data["finalOutput"]),
            has_final_output=data["hasFinalOutput"],
        )
