"""The workflow interpreter: activation in, decision out.

The interpreter never does I/O and never reads the clock. Each entry point takes a run state (and the
news: a start, or a provider call's result) and returns a :class:`Decision`: the new state, the steps
that finished, the provider calls to start and, once the run has ended, its outcome. A supervisor
carries the decisions out and persists the state after each one.

Traversal fixes the original's defects: edge conditions are evaluated, a node reached by several paths
runs once (it waits until every incoming edge is resolved), and independent branches run in parallel.

A node sees the workflow input and the outputs of its upstream nodes only, never those of a parallel
branch: what it sees then cannot depend on which branch happened to finish first, and the request body
of a call in flight can be rebuilt, unchanged, from a persisted state.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from flowker.dsl.conditions import Condition, ConditionEvaluationError, parse_condition
from flowker.dsl.mappings import MappingApplyError, MappingPlan, compile_mappings
from flowker.dsl.model import Edge, Node, NodeType, WorkflowDefinition
from flowker.dsl.retry import NodeRetry, parse_node_retry
from flowker.dsl.run_state import (
    ExecutionStatus,
    ExecutorCall,
    NodeState,
    Route,
    RunState,
    StepRecord,
    StepStatus,
)
from flowker.dsl.validation import SET_OUTPUT, find_cycle, is_catalog_node
from flowker.errors import BadRequest

__all__ = ["Decision", "Interpreter", "Outcome", "UnexpectedResult"]

_WORKFLOW = "workflow"


class UnexpectedResult(ValueError):
    """A call result for a node with no call in flight: it arrived after the run ended, or twice."""


@dataclass(frozen=True)
class Outcome:
    """How a run ended.

    Attributes:
        status: ``COMPLETED``, ``FAILED`` or (a halted run that left work undone) ``CANCELLED``.
        final_output: For a completed run, the last ``set_output`` value, else the whole context.
        error_message: For a failed run, ``node "<id>": <why>`` or ``edge "<id>": <why>``.
    """

    status: ExecutionStatus
    final_output: Any | None
    error_message: str | None


@dataclass(frozen=True)
class Decision:
    """What the supervisor must do after one activation.

    Attributes:
        state: The new run state to persist (the state passed in is never modified).
        steps: The steps that finished, in step-number order.
        calls: The provider calls to start now; several when branches run in parallel.
        outcome: Set when the run has ended; the supervisor then abandons any call still in flight.
    """

    state: RunState
    steps: list[StepRecord]
    calls: list[ExecutorCall]
    outcome: Outcome | None


class _Turn:
    """One decision in the making: a private copy of the state and what has happened to it."""

    def __init__(self, state: RunState, now: str) -> None:
        # Context values are never modified, only added, so the context itself is copied shallowly.
        self.state = dataclasses.replace(
            state,
            context=dict(state.context),
            nodes=dict(state.nodes),
            edges=dict(state.edges),
            running=dict(state.running),
        )
        self.now = now
        self.steps: list[StepRecord] = []
        self.calls: list[ExecutorCall] = []
        self.error: str | None = None


def total_steps(definition: WorkflowDefinition) -> int:
    """The number of non-trigger nodes: the steps a run may take (the original's ``totalSteps``)."""
    return sum(1 for node in definition.nodes if node.type != NodeType.TRIGGER)


class Interpreter:
    """Runs one workflow definition; holds no run state, so one instance serves any number of runs.

    Args:
        definition: A definition that passed ``check_draft`` and ``check_activation``.

    Raises:
        ValueError: The definition is not executable: not exactly one trigger, a cycle, an edge naming
            no node, a conditional without a condition, an executor node without ``executorConfigId``
            or ``endpointName``, a condition or mapping that does not compile, or an invalid ``retry``.
    """

    def __init__(self, definition: WorkflowDefinition) -> None:
        self._nodes = {node.id: node for node in definition.nodes}
        triggers = [node.id for node in definition.nodes if node.type == NodeType.TRIGGER]
        if len(triggers) != 1:
            raise ValueError(f"a workflow needs exactly one trigger node, found {len(triggers)}")
        self._trigger = triggers[0]
        self._incoming: dict[str, list[Edge]] = {node_id: [] for node_id in self._nodes}
        self._outgoing: dict[str, list[Edge]] = {node_id: [] for node_id in self._nodes}
        for edge in definition.edges:
            if edge.source not in self._nodes or edge.target not in self._nodes:
                raise ValueError(f"edge {edge.id!r} joins {edge.source!r} to {edge.target!r}: no such node")
            self._outgoing[edge.source].append(edge)
            self._incoming[edge.target].append(edge)
        cycle = find_cycle(definition)
        if cycle:
            raise ValueError(f"the workflow has a cycle: {' -> '.join(cycle)}")
        self._edge_conditions = {
            edge.id: parse_condition(_text(edge.condition, f"edge {edge.id!r} condition"))
            for edge in definition.edges
            if edge.condition is not None
        }
        self._conditions: dict[str, Condition] = {}
        self._input_plans: dict[str, MappingPlan] = {}
        self._output_plans: dict[str, MappingPlan] = {}
        self._retries: dict[str, NodeRetry] = {}
        for node in definition.nodes:
            self._compile(node)
        self._sees = {node_id: frozenset({_WORKFLOW, *self._upstream(node_id)}) for node_id in self._nodes}

    def _compile(self, node: Node) -> None:
        data, where = node.settings, f"nodes[{node.id}].data"
        if node.type == NodeType.CONDITIONAL:
            self._conditions[node.id] = parse_condition(_text(data.get("condition"), f"{where}.condition"))
        elif node.type == NodeType.EXECUTOR:
            for key in ("providerConfigId", "executorId") if is_catalog_node(data) else _BOUND:
                _text(data.get(key), f"{where}.{key}")
            for key, plans in (("inputMapping", self._input_plans), ("outputMapping", self._output_plans)):
                if data.get(key) is not None:
                    plans[node.id] = compile_mappings(data[key], field=f"{where}.{key}")
            try:
                retry = parse_node_retry(data.get("retry"), f"{where}.retry")
            except BadRequest as exc:
                raise ValueError(exc.message) from None
            if retry is not None:
                self._retries[node.id] = retry
        elif node.type not in (NodeType.TRIGGER, NodeType.ACTION):
            raise ValueError(f"nodes[{node.id}].type {node.type!r} is not a node type")

    def _upstream(self, node_id: str) -> set[str]:
        found: set[str] = set()
        pending = [edge.source for edge in self._incoming[node_id]]
        while pending:
            source = pending.pop()
            if source not in found:
                found.add(source)
                pending.extend(edge.source for edge in self._incoming[source])
        return found

    @property
    def total_steps(self) -> int:
        """The number of non-trigger nodes, including those a run may skip (the original's ``totalSteps``)."""
        return len(self._nodes) - 1

    def start(self, input_data: dict[str, Any], now: str) -> Decision:
        """Begin a run: the trigger is done at once (it is not a step) and its successors start.

        Args:
            input_data: The execution's input, seen by nodes as ``workflow``.
            now: The current time, for the steps that finish in this decision.
        """
        state = RunState(
            context={_WORKFLOW: copy.deepcopy(input_data)},
            nodes={node_id: NodeState.WAITING for node_id in self._nodes},
            edges={},
            running={},
            steps_taken=0,
            final_output=None,
            has_final_output=False,
        )
        turn = _Turn(state, now)
        turn.state.nodes[self._trigger] = NodeState.DONE
        self._resolve(turn, self._trigger, None)
        return self._advance(turn)

    def call_succeeded(
        self,
        state: RunState,
        node_id: str,
        response: dict[str, Any],
        executed_at: str,
        duration_ms: int,
        now: str,
        halt: bool = False,
    ) -> Decision:
        """Apply a provider call's success.

        Args:
            state: The state the call was started from (or a later one).
            node_id: The executor node whose call succeeded.
            response: The envelope ``{"status": int, "headers": {...}, "body": ...}``.
            executed_at: When the call started.
            duration_ms: How long it took, retries included.
            now: The current time, for the steps that finish in this decision.
            halt: Record the step but run nothing after it (the run is being cancelled): the decision
                ends the run ``cancelled`` once no call is in flight, or ``completed`` if nothing was left.

        Raises:
            UnexpectedResult: ``node_id`` has no call in flight in ``state``.
        """
        turn, step = self._receive(state, node_id, now)
        plan = self._output_plans.get(node_id)
        try:
            output = plan.apply(response) if plan else copy.deepcopy(response)
        except MappingApplyError as exc:
            self._finish(turn, node_id, step, None, executed_at, duration_ms, error=exc.message)
        else:
            self._finish(turn, node_id, step, output, executed_at, duration_ms)
        return self._advance(turn, halt=halt)

    def call_failed(
        self,
        state: RunState,
        node_id: str,
        message: str,
        executed_at: str,
        duration_ms: int,
        now: str,
        output: Any | None = None,
    ) -> Decision:
        """Apply a provider call's final failure: the step fails, and so does the run.

        Args:
            state, node_id, executed_at, duration_ms, now: As for :meth:`call_succeeded`.
            message: Why, e.g. ``executor call failed after 5 attempts: ...``.
            output: What the provider answered, if anything, to keep in the step record.

        Raises:
            UnexpectedResult: ``node_id`` has no call in flight in ``state``.
        """
        turn, step = self._receive(state, node_id, now)
        self._finish(turn, node_id, step, copy.deepcopy(output), executed_at, duration_ms, error=message)
        return self._advance(turn)

    def resume(self, state: RunState) -> list[ExecutorCall]:
        """The calls in flight in ``state``, rebuilt with their step numbers and bodies, in step order."""
        return [
            self._call(state.context, node_id, step)
            for node_id, step in sorted(state.running.items(), key=itemgetter(1))
        ]

    def step_input(self, context: dict[str, Any], node_id: str) -> Any:
        """The body executor node ``node_id`` sends, given a run's context (stored in its run state).

        A node sees only its ancestors' outputs, which no later step changes, so this is what was sent;
        shown by the step timeline, recomputed there rather than stored with every step. Raises
        :class:`MappingApplyError` when the mapping cannot apply, ``KeyError`` for no executor node.
        """
        if self._nodes[node_id].type != NodeType.EXECUTOR:
            raise KeyError(node_id)
        plan = self._input_plans.get(node_id)
        view = _view(context, self._sees[node_id])
        return plan.apply(view) if plan else copy.deepcopy(view)

    def _receive(self, state: RunState, node_id: str, now: str) -> tuple[_Turn, int]:
        if node_id not in state.running:
            raise UnexpectedResult(f"node {node_id!r} has no call in flight")
        turn = _Turn(state, now)
        return turn, turn.state.running.pop(node_id)

    def _advance(self, turn: _Turn, halt: bool = False) -> Decision:
        """Run or skip ready nodes, the first in definition order each time, until none is ready.

        ``halt`` (the run is being cancelled): run nothing more. Once no call is in flight, the run is
        ``cancelled`` if a node was left that would have run, and ``completed`` if nothing was left.
        """
        state = turn.state
        left_undone = False
        while turn.error is None:
            node_id = next((n for n in self._nodes if self._ready(state, n)), None)
            if node_id is None:
                break
            if any(state.edges[edge.id] for edge in self._incoming[node_id]):
                if halt:
                    left_undone = True
                    break
                self._run(turn, node_id)
            else:
                state.nodes[node_id] = NodeState.SKIPPED
                state.edges.update((edge.id, False) for edge in self._outgoing[node_id])
        if turn.error is not None:
            for node_id in state.running:
                state.nodes[node_id] = NodeState.CANCELLED
            state.running.clear()
            return Decision(state, turn.steps, [], Outcome(ExecutionStatus.FAILED, None, turn.error))
        if state.running:
            return Decision(state, turn.steps, turn.calls, None)
        if left_undone:
            return Decision(state, turn.steps, [], Outcome(ExecutionStatus.CANCELLED, None, "cancelled"))
        final = state.final_output if state.has_final_output else state.context
        return Decision(state, turn.steps, [], Outcome(ExecutionStatus.COMPLETED, copy.deepcopy(final), None))

    def _ready(self, state: RunState, node_id: str) -> bool:
        return state.nodes[node_id] == NodeState.WAITING and all(
            edge.id in state.edges for edge in self._incoming[node_id]
        )

    def _run(self, turn: _Turn, node_id: str) -> None:
        state, node = turn.state, self._nodes[node_id]
        state.steps_taken += 1
        step = state.steps_taken
        if node.type == NodeType.EXECUTOR:
            try:
                call = self._call(state.context, node_id, step)
            except MappingApplyError as exc:
                self._finish(turn, node_id, step, None, turn.now, 0, error=exc.message)
                return
            turn.calls.append(call)
            state.nodes[node_id] = NodeState.RUNNING
            state.running[node_id] = step
        elif node.type == NodeType.CONDITIONAL:
            condition = self._conditions[node_id]
            try:
                result = condition.evaluate(_view(state.context, self._sees[node_id]))
            except ConditionEvaluationError as exc:
                self._finish(turn, node_id, step, None, turn.now, 0, error=exc.message)
                return
            branch = "true" if result else "false"
            output = {"condition": condition.source, "result": result, "branchTaken": branch}
            self._finish(turn, node_id, step, output, turn.now, 0, branch=branch)
        else:
            if node.settings.get("actionType") == SET_OUTPUT:
                state.final_output = copy.deepcopy(node.settings.get("output"))
                state.has_final_output = True
            self._finish(turn, node_id, step, copy.deepcopy(node.settings), turn.now, 0)

    def _call(self, context: dict[str, Any], node_id: str, step: int) -> ExecutorCall:
        data, body = self._nodes[node_id].settings, self.step_input(context, node_id)
        retry = self._retries.get(node_id)
        if is_catalog_node(data):
            return ExecutorCall(
                step, node_id, data["providerConfigId"], data["executorId"], body, retry, route_of(data)
            )
        return ExecutorCall(step, node_id, data["executorConfigId"], data["endpointName"], body, retry)

    def _finish(
        self,
        turn: _Turn,
        node_id: str,
        step: int,
        output: Any | None,
        executed_at: str,
        duration_ms: int,
        error: str | None = None,
        branch: str | None = None,
    ) -> None:
        """Record a node's step; a done node resolves its outgoing edges, a failed one ends the run."""
        node, status = self._nodes[node_id], StepStatus.COMPLETED if error is None else StepStatus.FAILED
        name = node.name or f"{node.type}_{node.id}"
        turn.steps.append(StepRecord(step, node_id, name, status, output, error, executed_at, duration_ms))
        if error is not None:
            turn.state.nodes[node_id] = NodeState.FAILED
            turn.error = f'node "{node_id}": {error}'
            return
        turn.state.context[node_id] = output
        turn.state.nodes[node_id] = NodeState.DONE
        self._resolve(turn, node_id, branch)

    def _resolve(self, turn: _Turn, source: str, branch: str | None) -> None:
        """Resolve the edges leaving a done node; ``branch`` is the handle a conditional took."""
        view = _view(turn.state.context, self._sees[source] | {source})
        for edge in self._outgoing[source]:
            fired = branch is None or edge.sourceHandle == branch
            condition = self._edge_conditions.get(edge.id)
            if fired and condition is not None:
                try:
                    fired = condition.evaluate(view)
                except ConditionEvaluationError as exc:
                    turn.error = f'edge "{edge.id}": {exc.message}'
                    return
            turn.state.edges[edge.id] = fired


_BOUND = ("executorConfigId", "endpointName")


def route_of(data: Mapping[str, Any]) -> Route:
    """The route a catalog-form node adds to its executor's request (see :class:`Route`)."""
    method, path = data.get("method"), data.get("path")
    params = tuple(
        (key, str(value))
        for key, value in data.items()
        if isinstance(value, str | int) and not isinstance(value, bool) and key not in ("method", "path")
    )
    return Route(
        method=method.upper() if isinstance(method, str) and method else None,
        path=path if isinstance(path, str) and path else None,
        params=params,
    )


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{where} must be a non-empty string")
    return value


def _view(context: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    """The part of the context a node sees, in the context's order."""
    return {key: value for key, value in context.items() if key in keys}
