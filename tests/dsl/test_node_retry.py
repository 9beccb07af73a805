"""An executor node's ``data.retry``: checked when the workflow is saved (FLK-0155), carried to its calls."""

from __future__ import annotations

from typing import Any

import pytest

from flowker.dsl.interpreter import Interpreter
from flowker.dsl.model import WorkflowDefinition
from flowker.dsl.retry import NodeRetry, parse_node_retry
from flowker.dsl.validation import check_draft
from flowker.errors import BadRequest

WHERE = "nodes[pay].data.retry"


def workflow(retry: Any) -> WorkflowDefinition:
    data: dict[str, Any] = {"executorConfigId": "cfg-1", "endpointName": "pay"}
    if retry is not ...:
        data["retry"] = retry
    return WorkflowDefinition.model_validate(
        {
            "name": "pay",
            "nodes": [{"id": "start", "type": "trigger"}, {"id": "pay", "type": "executor", "data": data}],
            "edges": [{"id": "e1", "source": "start", "target": "pay"}],
        }
    )


def test_every_field_is_read() -> None:
    retry = parse_node_retry(
        {
            "maxAttempts": 3,
            "initialIntervalMs": 250,
            "backoffCoefficient": 1.5,
            "maxIntervalMs": 4000,
            "retryOn": [503, 429, 503],
            "retryNonIdempotent": True,
        },
        WHERE,
    )
    assert retry == NodeRetry(
        max_attempts=3,
        initial_interval_ms=250.0,
        backoff_coefficient=1.5,
        max_interval_ms=4000.0,
        retry_on=(429, 503),
        retry_non_idempotent=True,
    )


@pytest.mark.parametrize("value", [None, ...])
def test_no_retry_is_the_server_policy(value: Any) -> None:
    check_draft(workflow(value))
    assert parse_node_retry(None, WHERE) is None


def test_an_empty_retry_keeps_every_server_value() -> None:
    assert parse_node_retry({}, WHERE) == NodeRetry()
    assert parse_node_retry({"maxAttempts": None}, WHERE) == NodeRetry()


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        ([], f"{WHERE} must be an object with fields maxAttempts, initialIntervalMs, backoffCoefficient"),
        ("5", f"{WHERE} must be an object"),
        ({"attempts": 3}, f"{WHERE}.attempts is not a retry field (known: maxAttempts, "),
        ({"maxAttempts": 3, "jitter": "none"}, f"{WHERE}.jitter is not a retry field"),
        ({"maxAttempts": 0}, f"{WHERE}.maxAttempts must be from 1 to 10, got 0"),
        ({"maxAttempts": 11}, f"{WHERE}.maxAttempts must be from 1 to 10, got 11"),
        ({"maxAttempts": 2.5}, f"{WHERE}.maxAttempts must be a whole number from 1 to 10"),
        ({"maxAttempts": True}, f"{WHERE}.maxAttempts must be a whole number from 1 to 10"),
        ({"maxAttempts": "3"}, f"{WHERE}.maxAttempts must be a whole number from 1 to 10"),
        ({"initialIntervalMs": -1}, f"{WHERE}.initialIntervalMs must be from 0 to 60000, got -1"),
        ({"initialIntervalMs": 60001}, f"{WHERE}.initialIntervalMs must be from 0 to 60000, got 60001"),
        ({"initialIntervalMs": "1s"}, f"{WHERE}.initialIntervalMs must be a number from 0 to 60000"),
        ({"backoffCoefficient": 0.5}, f"{WHERE}.backoffCoefficient must be from 1 to 10, got 0.5"),
        ({"backoffCoefficient": 11}, f"{WHERE}.backoffCoefficient must be from 1 to 10, got 11"),
        ({"maxIntervalMs": 3_600_001}, f"{WHERE}.maxIntervalMs must be from 0 to 3600000, got 3600001"),
        ({"maxIntervalMs": False}, f"{WHERE}.maxIntervalMs must be a number from 0 to 3600000"),
        (
            {"initialIntervalMs": 2000, "maxIntervalMs": 1000},
            f"{WHERE}.maxIntervalMs (1000) is below initialIntervalMs (2000)",
        ),
        (
            {"retryOn": 503},
            f"{WHERE}.retryOn must be a list of HTTP statuses among 408, 425, 429 and 500-599",
        ),
        ({"retryOn": [503, 404]}, f"{WHERE}.retryOn[1] (404) is not retryable"),
        ({"retryOn": [400]}, f"{WHERE}.retryOn[0] (400) is not retryable"),
        ({"retryOn": [200]}, f"{WHERE}.retryOn[0] (200) is not retryable"),
        ({"retryOn": [600]}, f"{WHERE}.retryOn[0] (600) is not retryable"),
        ({"retryOn": ["503"]}, f"{WHERE}.retryOn[0] ('503') is not retryable"),
        ({"retryOn": [True]}, f"{WHERE}.retryOn[0] (True) is not retryable"),
        ({"retryNonIdempotent": "yes"}, f"{WHERE}.retryNonIdempotent must be true or false"),
        ({"retryNonIdempotent": 1}, f"{WHERE}.retryNonIdempotent must be true or false"),
    ],
)
def test_an_invalid_retry_policy_is_refused_on_save_naming_its_field(retry: Any, message: str) -> None:
    with pytest.raises(BadRequest) as info:
        check_draft(workflow(retry))
    assert (info.value.code, info.value.status) == ("FLK-0155", 400)
    assert info.value.message.startswith(message), info.value.message


@pytest.mark.parametrize(
    "retry",
    [
        {"maxAttempts": 1},
        {"maxAttempts": 10, "initialIntervalMs": 0, "maxIntervalMs": 0},
        {"initialIntervalMs": 60000, "maxIntervalMs": 3600000, "backoffCoefficient": 10},
        {"backoffCoefficient": 1},
        {"retryOn": []},
        {"retryOn": [408, 425, 429, 500, 599]},
        {"retryNonIdempotent": False},
    ],
)
def test_limits_are_inclusive(retry: dict[str, Any]) -> None:
    check_draft(workflow(retry))


def test_the_nodes_retry_policy_travels_with_its_call() -> None:
    decision = Interpreter(workflow({"maxAttempts": 2, "retryNonIdempotent": True})).start({}, "now")
    assert [call.retry for call in decision.calls] == [NodeRetry(max_attempts=2, retry_non_idempotent=True)]
    assert Interpreter(workflow(...)).start({}, "now").calls[0].retry is None


def test_a_stored_definition_with_an_invalid_retry_does_not_compile() -> None:
    # Saved before validation existed: the interpreter refuses it as it refuses any unexecutable definition.
    with pytest.raises(ValueError, match=r"nodes\[pay\]\.data\.retry\.maxAttempts must be from 1 to 10"):
        Interpreter(workflow({"maxAttempts": 0}))
