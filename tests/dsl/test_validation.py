"""The pure rules of :mod:`flowker.dsl.validation`, without HTTP."""

from __future__ import annotations

import itertools

import pytest

from flowker.dsl.model import WorkflowDefinition
from flowker.dsl.validation import ExecutorRef, check_activation, executor_config_ids, find_cycle
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
