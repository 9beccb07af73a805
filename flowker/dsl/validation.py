"""The rules a workflow definition must meet, each failure with its own ``FLK`` code.

Two levels, as in the original: :func:`check_draft` runs on every save (limits, node and edge shape,
conditions and mappings parsed), :func:`check_activation` runs before a workflow may execute
(a single trigger, no cycle, every executor node bound to a usable executor configuration).
The original declares most of these limits but never enforces them; here every one is enforced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from flowker.codes import (
    CONDITIONAL_EDGE_WITHOUT_HANDLE,
    CYCLE_OR_EDGE_TO_TRIGGER,
    DUPLICATE_EDGE_ID,
    DUPLICATE_NODE_ID,
    EDGE_FIELD_TOO_LONG,
    EDGE_ID_REQUIRED,
    EDGE_NAMES_NO_NODE,
    EDGE_SOURCE_REQUIRED,
    EDGE_TARGET_REQUIRED,
    EXECUTOR_CONFIG_DISABLED,
    EXECUTOR_CONFIG_ID_REQUIRED,
    INVALID_CONDITION,
    INVALID_EXECUTOR_INPUT,
    INVALID_INPUT_MAPPING,
    INVALID_OUTPUT_MAPPING,
    INVALID_PROVIDER_CONFIG_REF,
    MISREADABLE_NODE_ID,
    NODE_ID_REQUIRED,
    NODE_ID_TOO_LONG,
    NODE_TYPE_REQUIRED,
    NOT_ONE_TRIGGER,
    PROVIDER_EXECUTOR_MISMATCH,
    RAW_TRANSFORMS,
    SET_OUTPUT_NOT_OBJECT,
    TOO_MANY_EDGES,
    TOO_MANY_NODES,
    UNKNOWN_ENDPOINT,
    UNKNOWN_EXECUTOR_REFERENCE,
    UNKNOWN_NODE_TYPE,
    WORKFLOW_DESCRIPTION_TOO_LONG,
    WORKFLOW_NAME_REQUIRED,
    WORKFLOW_NAME_TOO_LONG,
    WORKFLOW_WITHOUT_NODES,
)
from flowker.dsl.conditions import ConditionSyntaxError, parse_condition
from flowker.dsl.mappings import MappingError, compile_mappings
from flowker.dsl.model import Edge, Node, NodeType, WorkflowDefinition
from flowker.dsl.retry import parse_node_retry
from flowker.dsl.webhook_trigger import check_trigger_data
from flowker.errors import BadRequest, NotFound, Unprocessable

MAX_NAME = 100
MAX_DESCRIPTION = 500
MAX_NODES = 100
MAX_EDGES = 200
MAX_ID = 50
MAX_EDGE_TEXT = 50
MAX_CONDITION = 500
#: The only action with an effect; other action types record a step whose output is the node data.
SET_OUTPUT = "set_output"
#: Raw Kazaam operations of the original: refused rather than silently ignored.
UNSUPPORTED_EXECUTOR_KEYS = ("transforms",)
#: The run context is ``{"workflow": inputData, "<nodeId>": output, ...}`` (see the interpreter), so a
#: node of this id would overwrite the input that every later condition and mapping reads.
INPUT_KEY = "workflow"
#: What conditions and mappings read as structure in a path: a node id holding one could never be
#: named, and a path meant for it would silently read another node's field or an array item instead.
PATH_SYNTAX = {
    ".": "the field separator",
    "[": "the start of an array index",
    "]": "the end of an array index",
}


@dataclass(frozen=True)
class ExecutorRef:
    """What activation needs to know of an executor configuration a node names."""

    id: str
    name: str
    active: bool
    endpoints: frozenset[str]


def check_draft(definition: WorkflowDefinition, catalog_executors: frozenset[str] = frozenset()) -> None:
    """Check what every saved workflow must satisfy; raise :class:`BadRequest` on the first failure.

    ``catalog_executors``: the ids of the catalog's executors, which an executor node may name in
    ``data.executorId`` (with ``data.providerConfigId``) instead of an executor configuration.
    """
    name = (definition.name or "").strip()
    if not name:
        raise BadRequest("name is required", code=WORKFLOW_NAME_REQUIRED)
    if len(definition.name or "") > MAX_NAME:
        raise BadRequest(f"name is longer than {MAX_NAME} characters", code=WORKFLOW_NAME_TOO_LONG)
    if definition.description is not None and len(definition.description) > MAX_DESCRIPTION:
        raise BadRequest(
            f"description is longer than {MAX_DESCRIPTION} characters", code=WORKFLOW_DESCRIPTION_TOO_LONG
        )
    if len(definition.nodes) > MAX_NODES:
        raise BadRequest(f"a workflow has at most {MAX_NODES} nodes", code=TOO_MANY_NODES)
    if len(definition.edges) > MAX_EDGES:
        raise BadRequest(f"a workflow has at most {MAX_EDGES} edges", code=TOO_MANY_EDGES)
    seen: set[str] = set()
    for index, node in enumerate(definition.nodes):
        _check_node(index, node, seen, catalog_executors)
    edge_ids: set[str] = set()
    for index, edge in enumerate(definition.edges):
        _check_edge(index, edge, seen, edge_ids)


def _check_node(index: int, node: Node, seen: set[str], catalog_executors: frozenset[str]) -> None:
    where = f"nodes[{index}]"
    if not node.id.strip():
        raise BadRequest(f"{where}.id is required", code=NODE_ID_REQUIRED)
    if len(node.id) > MAX_ID:
        raise BadRequest(f"{where}.id is longer than {MAX_ID} characters", code=NODE_ID_TOO_LONG)
    _check_node_id(where, node.id)
    if node.id in seen:
        raise BadRequest(f"{where}.id {node.id!r} is used by another node", code=DUPLICATE_NODE_ID)
    seen.add(node.id)
    if not node.type:
        raise BadRequest(f"{where}.type is required", code=NODE_TYPE_REQUIRED)
    if node.type not in set(NodeType):
        known = ", ".join(t.value for t in NodeType)
        raise BadRequest(f"{where}.type {node.type!r} is not one of {known}", code=UNKNOWN_NODE_TYPE)
    where = f"nodes[{node.id}].data"
    data = node.settings
    if node.type == NodeType.CONDITIONAL and data.get("condition") is not None:
        _parse(data["condition"], f"{where}.condition")
    elif node.type == NodeType.EXECUTOR:
        _check_executor_data(where, data, catalog_executors)
    elif node.type == NodeType.TRIGGER:
        check_trigger_data(where, node)
    elif (
        node.type == NodeType.ACTION
        and data.get("actionType") == SET_OUTPUT
        and not isinstance(data.get("output"), dict)
    ):
        raise BadRequest(
            f"{where}.output must be an object for a set_output action", code=SET_OUTPUT_NOT_OBJECT
        )


def _check_node_id(where: str, node_id: str) -> None:
    """Refuse an id that a path in a condition or mapping would read as something else (FLK-0126).

    Ids are compared as they are: path lookups are case-sensitive, so ``Workflow`` is a node like any
    other. Ids with characters no path can spell (a space, say) are allowed, as in the original: no
    path names such a node, but none reads something else in its place either.
    """
    shown = json.dumps(node_id, ensure_ascii=False)
    if node_id == INPUT_KEY:
        raise BadRequest(
            f"{where}.id: node id {shown} is reserved: conditions and mappings read the execution's "
            'input as "workflow.…"',
            code=MISREADABLE_NODE_ID,
        )
    if node_id == "$":
        raise BadRequest(
            f'{where}.id: node id "$" is reserved: a mapping reads "$" as the whole document it maps',
            code=MISREADABLE_NODE_ID,
        )
    for char, meaning in PATH_SYNTAX.items():
        if char in node_id:
            raise BadRequest(
                f'{where}.id: node id {shown} contains "{char}", which conditions and mappings read as '
                f"{meaning}: no path could name this node",
                code=MISREADABLE_NODE_ID,
            )


def _check_executor_data(where: str, data: Mapping[str, object], catalog_executors: frozenset[str]) -> None:
    for key in UNSUPPORTED_EXECUTOR_KEYS:
        if key in data:
            raise BadRequest(
                f"{where}.{key} is not supported; use inputMapping transformations", code=RAW_TRANSFORMS
            )
    for key, code in (("inputMapping", INVALID_INPUT_MAPPING), ("outputMapping", INVALID_OUTPUT_MAPPING)):
        if data.get(key) is not None:
            try:
                compile_mappings(data[key], field=f"{where}.{key}")
            except MappingError as exc:
                raise BadRequest(str(exc), code=code) from None
    parse_node_retry(data.get("retry"), f"{where}.retry")
    if is_catalog_node(data):
        executor_id = data["executorId"]
        if not isinstance(executor_id, str) or executor_id not in catalog_executors:
            raise NotFound(
                f"{where}.executorId {executor_id!r} is not an executor of the catalog "
                "(GET /v1/catalog/executors)",
                code=UNKNOWN_EXECUTOR_REFERENCE,
            )
        _check_route(where, data)


#: The methods a catalog-form node's ``data.method`` may name.
ROUTE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
MAX_ROUTE_PATH = 500


def _check_route(where: str, data: Mapping[str, object]) -> None:
    """A catalog-form node's ``method`` and ``path`` (reference 4.3): the path stays under the provider
    configuration's base URL, so no scheme, host, query, fragment or dot segment."""
    method = data.get("method")
    if method is not None and (not isinstance(method, str) or method.upper() not in ROUTE_METHODS):
        raise BadRequest(
            f"{where}.method must be one of {', '.join(sorted(ROUTE_METHODS))}", code=INVALID_EXECUTOR_INPUT
        )
    path = data.get("path")
    if path is None:
        return
    problem = None
    if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_ROUTE_PATH:
        problem = f"must be a path starting with / of at most {MAX_ROUTE_PATH} characters"
    elif any(c in path for c in "?#\\") or "//" in path or any(ord(c) < 0x21 or ord(c) > 0x7E for c in path):
        problem = "must hold no query, fragment, backslash, empty segment, space or control character"
    elif any(
        segment in (".", "..") or segment.lower() in ("%2e", "%2e%2e", ".%2e", "%2e.")
        for segment in path.split("/")
    ):
        problem = "must hold no dot segment: it stays under the provider configuration's base URL"
    if problem:
        raise BadRequest(f"{where}.path {problem}", code=INVALID_EXECUTOR_INPUT)


def catalog_bindings(definition: WorkflowDefinition) -> list[tuple[str, str, object]]:
    """``(node id, executorId, providerConfigId)`` of each executor node in catalog form, in node order."""
    return [
        (node.id, str(node.settings["executorId"]), node.settings.get("providerConfigId"))
        for node in definition.nodes
        if node.type == NodeType.EXECUTOR
        and is_catalog_node(node.settings)
        and isinstance(node.settings.get("executorId"), str)
    ]


def is_catalog_node(data: Mapping[str, object]) -> bool:
    """Whether executor node ``data`` is in catalog form (``executorId`` + ``providerConfigId``)."""
    return "executorConfigId" not in data and "executorId" in data


def _check_edge(index: int, edge: Edge, nodes: set[str], seen: set[str]) -> None:
    where = f"edges[{index}]"
    for field, code in (
        ("id", EDGE_ID_REQUIRED),
        ("source", EDGE_SOURCE_REQUIRED),
        ("target", EDGE_TARGET_REQUIRED),
    ):
        value: str = getattr(edge, field)
        if not value.strip():
            raise BadRequest(f"{where}.{field} is required", code=code)
        if len(value) > MAX_ID:
            raise BadRequest(f"{where}.{field} is longer than {MAX_ID} characters", code=EDGE_FIELD_TOO_LONG)
    for field in ("sourceHandle", "label"):
        value = getattr(edge, field)
        if value is not None and len(value) > MAX_EDGE_TEXT:
            raise BadRequest(
                f"{where}.{field} is longer than {MAX_EDGE_TEXT} characters", code=EDGE_FIELD_TOO_LONG
            )
    if edge.id in seen:
        raise BadRequest(f"{where}.id {edge.id!r} is used by another edge", code=DUPLICATE_EDGE_ID)
    seen.add(edge.id)
    for field in ("source", "target"):
        if getattr(edge, field) not in nodes:
            raise BadRequest(
                f"{where}.{field} {getattr(edge, field)!r} names no node of this workflow",
                code=EDGE_NAMES_NO_NODE,
            )
    if edge.condition is not None:
        _parse(edge.condition, f"{where}.condition")


def _parse(condition: object, where: str) -> None:
    if not isinstance(condition, str):
        raise BadRequest(f"{where} must be a string", code=INVALID_CONDITION)
    try:
        parse_condition(condition)
    except ConditionSyntaxError as exc:
        raise BadRequest(f"{where}: {exc}", code=INVALID_CONDITION) from None


def executor_bindings(definition: WorkflowDefinition) -> list[tuple[str, str]]:
    """The ``(executorConfigId, endpointName)`` pairs its executor nodes call, in node order, once each."""
    pairs: list[tuple[str, str]] = []
    for node in definition.nodes:
        ref, endpoint = node.settings.get("executorConfigId"), node.settings.get("endpointName")
        if node.type == NodeType.EXECUTOR and isinstance(ref, str) and ref:
            pair = (ref, endpoint if isinstance(endpoint, str) else "")
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def executor_config_ids(definition: WorkflowDefinition) -> list[str]:
    """The executor configuration ids that the definition's executor nodes name, in node order."""
    return list(dict.fromkeys(ref for ref, _ in executor_bindings(definition)))


def check_activation(definition: WorkflowDefinition, executors: Mapping[str, ExecutorRef]) -> None:
    """Check what an executable workflow must satisfy, given the executor configurations it names.

    Assumes :func:`check_draft` passed. Raises on the first failure.
    """
    # A draft saved before these ids were refused must not run with its input overwritten either.
    for index, node in enumerate(definition.nodes):
        _check_node_id(f"nodes[{index}]", node.id)
    if not definition.nodes:
        raise Unprocessable("an active workflow needs at least one node", code=WORKFLOW_WITHOUT_NODES)
    triggers = [n.id for n in definition.nodes if n.type == NodeType.TRIGGER]
    if len(triggers) != 1:
        found = ", ".join(triggers) or "none"
        raise Unprocessable(
            f"an active workflow needs exactly one trigger node (found: {found})", code=NOT_ONE_TRIGGER
        )
    nodes = definition.node_map()
    for node in definition.nodes:
        where = f"nodes[{node.id}].data"
        if node.type == NodeType.CONDITIONAL and node.settings.get("condition") is None:
            raise BadRequest(f"{where}.condition is required", code=INVALID_CONDITION)
        if node.type == NodeType.EXECUTOR:
            _check_executor_binding(where, node, executors)
    for index, edge in enumerate(definition.edges):
        if nodes[edge.source].type == NodeType.CONDITIONAL and edge.sourceHandle not in ("true", "false"):
            raise BadRequest(
                f"edges[{index}] leaves conditional node {edge.source!r} and needs sourceHandle "
                "'true' or 'false'",
                code=CONDITIONAL_EDGE_WITHOUT_HANDLE,
            )
        if edge.target == triggers[0]:
            raise Unprocessable(f"edges[{index}] points at the trigger node", code=CYCLE_OR_EDGE_TO_TRIGGER)
    cycle = find_cycle(definition)
    if cycle:
        raise Unprocessable(f"the workflow has a cycle: {' -> '.join(cycle)}", code=CYCLE_OR_EDGE_TO_TRIGGER)


def _check_executor_binding(where: str, node: Node, executors: Mapping[str, ExecutorRef]) -> None:
    ref = node.settings.get("executorConfigId")
    if (not isinstance(ref, str) or not ref) and "executorId" in node.settings:
        _check_catalog_binding(where, node, executors)
        return
    if not isinstance(ref, str) or not ref:
        raise BadRequest(f"{where}.executorConfigId is required", code=EXECUTOR_CONFIG_ID_REQUIRED)
    executor = executors.get(ref)
    if executor is None:
        raise NotFound(
            f"{where}.executorConfigId {ref!r}: executor configuration not found",
            code=UNKNOWN_EXECUTOR_REFERENCE,
        )
    endpoint = node.settings.get("endpointName")
    if not isinstance(endpoint, str) or endpoint not in executor.endpoints:
        known = ", ".join(sorted(executor.endpoints))
        raise BadRequest(
            f"{where}.endpointName {endpoint!r} is not an endpoint of executor configuration "
            f"{executor.name!r} ({known})",
            code=UNKNOWN_ENDPOINT,
        )
    if not executor.active:
        raise Unprocessable(
            f"{where}.executorConfigId {ref!r}: executor configuration {executor.name!r} is disabled",
            code=EXECUTOR_CONFIG_DISABLED,
        )


def _check_catalog_binding(where: str, node: Node, executors: Mapping[str, ExecutorRef]) -> None:
    # ``executors`` holds the provider configurations a catalog node names, their endpoints being the
    # catalog executors of their provider (the provider match itself is checked when saved).
    ref = node.settings.get("providerConfigId")
    config = executors.get(ref) if isinstance(ref, str) else None
    if config is None:
        raise BadRequest(
            f"{where}.providerConfigId {ref!r}: no such provider configuration",
            code=INVALID_PROVIDER_CONFIG_REF,
        )
    executor = node.settings.get("executorId")
    if executor not in config.endpoints:
        raise BadRequest(
            f"{where}.executorId {executor!r} is not an executor of provider configuration {config.name!r}'s "
            "provider",
            code=PROVIDER_EXECUTOR_MISMATCH,
        )
    if not config.active:
        raise BadRequest(
            f"{where}.providerConfigId {ref!r}: provider configuration {config.name!r} is disabled",
            code=INVALID_PROVIDER_CONFIG_REF,
        )


def find_cycle(definition: WorkflowDefinition) -> list[str]:
    """A cycle as a node path whose first and last ids are equal, or ``[]`` when the graph is acyclic."""
    successors: dict[str, list[str]] = {node.id: [] for node in definition.nodes}
    for edge in definition.edges:
        successors[edge.source].append(edge.target)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for start in successors:
        if state.get(start):
            continue
        path = [start]
        stack = [iter(successors[start])]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(successors[nxt]))
    return []
