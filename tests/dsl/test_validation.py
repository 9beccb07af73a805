"""The pure rules of :mod:`flowker.dsl.validation`, without HTTP."""

from __future__ import annotations

import itertools

import pytest

from flowker.dsl.interpreter import Interpreter
from flowker.dsl.model import WorkflowDefinition
from flowker.dsl.validation import (
    ExecutorRef,
    check_activation,
    check_draft,
    executor_config_ids,
    find_cycle,
)
from flowker.errors import FlowkerError


def graph(edges: list[tuple[str, str]], nodes: list[str] | None = None) -> WorkflowDefinition:
    ids = nodes or sorted({n for edge in edges for n in edge})
    return WorkflowDefinition.model_validate(
        {
            "name": "g",
            "nodes": [{"id": i, "type": "trigger" if i == "t" else "action"} for i in ids],
            "edges": [{"id": f"{s}-{t}", "source": s, "target": t} for s, t in edges],
        }
    )


@pytest.mark.parametrize(
    ("edges", "cycle"),
    [
        ([("t", "a"), ("a", "b")], []),
        ([("t", "a"), ("t", "b"), ("a", "c"), ("b", "c")], []),  # a diamond joins, it does not loop
        ([("t", "a"), ("a", "b"), ("b", "a")], ["a", "b", "a"]),
        ([("t", "a"), ("a", "a")], ["a", "a"]),
        (
            [("t", "a"), ("x", "y"), ("y", "z"), ("z", "x")],
            ["x", "y", "z", "x"],
        ),  # unreachable loops count too
    ],
)
def test_find_cycle(edges: list[tuple[str, str]], cycle: list[str]) -> None:
    assert find_cycle(graph(edges)) == cycle


def test_find_cycle_handles_a_long_chain_without_recursion() -> None:
    ids = [f"n{i}" for i in range(100)]
    edges = list(itertools.pairwise(ids))
    assert find_cycle(graph(edges, ids)) == []
    assert find_cycle(graph([*edges, ("n99", "n0")], ids))[0] == "n0"


def test_executor_config_ids_in_node_order_without_repeats() -> None:
    definition = WorkflowDefinition.model_validate(
        {
            "name": "refs",
            "nodes": [
                {"id": "a", "type": "executor", "data": {"executorConfigId": "x"}},
                {"id": "b", "type": "executor", "data": {"executorConfigId": "y"}},
                {"id": "c", "type": "executor", "data": {"executorConfigId": "x"}},
                {"id": "d", "type": "action", "data": {"executorConfigId": "z"}},
            ],
        }
    )
    assert executor_config_ids(definition) == ["x", "y"]


def test_activation_names_the_endpoints_it_knows() -> None:
    definition = WorkflowDefinition.model_validate(
        {
            "name": "e",
            "nodes": [
                {"id": "t", "type": "trigger"},
                {"id": "call", "type": "executor", "data": {"executorConfigId": "x", "endpointName": "nope"}},
            ],
            "edges": [{"id": "e", "source": "t", "target": "call"}],
        }
    )
    with pytest.raises(FlowkerError) as caught:
        check_activation(definition, {"x": ExecutorRef("x", "kyc", True, frozenset({"validate", "status"}))})
    assert caught.value.code == "FLK-0153"
    assert "status, validate" in caught.value.message


def with_node(node_id: str) -> WorkflowDefinition:
    """A runnable workflow whose second node has ``node_id``."""
    return WorkflowDefinition.model_validate(
        {
            "name": "ids",
            "nodes": [
                {"id": "start", "type": "trigger"},
                {"id": node_id, "type": "action", "data": {"actionType": "log"}},
            ],
            "edges": [{"id": "e1", "source": "start", "target": node_id}],
        }
    )


@pytest.mark.parametrize(
    ("node_id", "why"),
    [
        (
            "workflow",
            'nodes[1].id: node id "workflow" is reserved: conditions and mappings read the '
            'execution\'s input as "workflow.…"',
        ),
        ("$", 'nodes[1].id: node id "$" is reserved: a mapping reads "$" as the whole document it maps'),
        ("kyc.v2", 'contains ".", which conditions and mappings read as the field separator'),
        ("workflow.customer", 'contains ".", which conditions and mappings read as the field separator'),
        (".", 'contains "."'),
        ("items[0]", 'contains "[", which conditions and mappings read as the start of an array index'),
        ("odd]", 'contains "]", which conditions and mappings read as the end of an array index'),
    ],
)
def test_node_ids_a_path_would_misread_are_refused_on_save(node_id: str, why: str) -> None:
    with pytest.raises(FlowkerError) as caught:
        check_draft(with_node(node_id))
    assert (caught.value.status, caught.value.code) == (400, "FLK-0126")
    assert why in caught.value.message, caught.value.message
    assert caught.value.message.startswith("nodes[1].id: "), caught.value.message


@pytest.mark.parametrize(
    "node_id",
    [
        "kyc-executor",
        "trigger-entry",
        "e1",
        "2fa-check",
        "node_1",
        "3f2b8a51-6c1d-4e0a-9b7f-2d4c6e8a0b1c",
        "Workflow",  # lookups are case-sensitive: this is not the input
        "WORKFLOW",
        "workflows",
        "workflow-check",
        "my_workflow",
        "KYC check",  # no path can spell it, but none reads something else in its place
        "déjà-vu",
    ],
)
def test_other_node_ids_are_accepted(node_id: str) -> None:
    check_draft(with_node(node_id))
    check_activation(with_node(node_id), {})


def test_a_node_named_workflow_would_overwrite_the_input() -> None:
    """Why the id is reserved: the run context keeps each node's output under its id, next to the
    input under "workflow" (the interpreter itself does not check ids)."""
    run = Interpreter(with_node("workflow")).start({"customer": {"cpf": "123"}}, "2026-01-01T00:00:00Z")
    assert run.state.context == {"workflow": {"actionType": "log"}}  # the input is gone


def test_activation_refuses_a_reserved_id_saved_before_the_rule() -> None:
    """A draft stored before node ids were checked is stopped at activation."""
    with pytest.raises(FlowkerError) as caught:
        check_activation(with_node("workflow"), {})
    assert (caught.value.status, caught.value.code) == (400, "FLK-0126")
