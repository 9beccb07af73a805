"""Retries on the real runtime: the executor actor on a local Ray cluster against providers on 127.0.0.1
that fail in every way — 5xx, 429 with ``Retry-After`` in both forms, resets, timeouts, slow answers.

Timing is asserted from below only: each gap between two attempts is at least what the policy promises
(backoffs are small and unjittered here, through the settings), never at most.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import AsyncIterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.executor_handle import ExecutorHandles
from flowker.actors.runtime import RayRuntime
from flowker.dsl.retry import NodeRetry
from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.helpers.fault_provider import FaultProvider
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import RecordedRequest, StubProvider

BACKOFF = 0.05
#: Lower bounds are met with this much slack for the clocks' resolution (asyncio may wake a hair early).
SLACK = 0.01


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Small unjittered backoffs; a test changes fields through ``indirect`` parametrisation."""
    fields: dict[str, Any] = {
        "retry_backoff_seconds": BACKOFF,
        "retry_jitter": False,
        "retry_after_max_seconds": 5.0,
        # Failures must not open the breaker, neither in a row nor by their rate: these tests are about
        # retries.
        "breaker_failure_threshold": 1000,
        "breaker_sliding_window_size": 1000,
        "breaker_minimum_calls": 1000,
        **getattr(request, "param", {}),
    }
    return Settings(data_dir=tmp_path / "data", port=0, api_keys=(API_KEY,), **fields)


@pytest.fixture
async def stub() -> AsyncIterator[StubProvider]:
    async with StubProvider() as provider:
        yield provider


@pytest.fixture
async def faults() -> AsyncIterator[FaultProvider]:
    async with FaultProvider() as provider:
        yield provider


def configuration(base_url: str) -> dict[str, Any]:
    return {
        "name": f"pay-{uuid.uuid4().hex[:8]}",
        "baseUrl": base_url,
        "endpoints": [
            {"name": "pay", "path": "/pay", "method": "POST", "timeout": 1},
            {"name": "status", "path": "/pay", "method": "GET", "timeout": 1},
            {"name": "slow", "path": "/slow", "method": "POST", "timeout": 5},
        ],
        "authentication": {"type": "bearer", "config": {"token": "pay-token-0123456789"}},
    }


async def create(api: ApiClient, base_url: str) -> str:
    created = await api.post("/v1/executors", configuration(base_url))
    assert created.status == 201, created.text
    return str(created.body["id"])


async def call(
    runtime: RayRuntime, config_id: str, endpoint: str = "pay", retry: NodeRetry | None = None
) -> CallResult:
    key = f"exec-{uuid.uuid4()}:pay"
    request = CallRequest(
        config_id, endpoint, {"amount": 10}, idempotency_key=key, request_id="r", retry=retry
    )
    return await ExecutorHandles(runtime.config).call(request)


def outcome(result: CallResult) -> tuple[bool, str | None, int, bool]:
    return result.ok, result.code, result.attempts, result.may_have_reached


def gaps(requests: list[RecordedRequest]) -> list[float]:
    return [b.received_at - a.received_at for a, b in itertools.pairwise(requests)]


async def test_a_failing_provider_is_called_five_times_with_doubling_gaps(
    api: ApiClient, stub: StubProvider, runtime: RayRuntime
) -> None:
    stub.route("POST", "/pay", (503, {"error": "busy"}))
    result = await call(runtime, await create(api, stub.url))
    assert outcome(result) == (False, "FLK-0256", 5, True)
    calls = stub.calls("/pay")
    assert len(calls) == 5
    assert len({c.headers["Idempotency-Key"] for c in calls}) == 1
    for gap, promised in zip(gaps(calls), [BACKOFF, 2 * BACKOFF, 4 * BACKOFF, 8 * BACKOFF], strict=True):
        assert gap >= promised - SLACK, gaps(calls)


@pytest.mark.parametrize("status", [400, 404, 409, 422])
async def test_a_client_error_is_answered_once(
    status: int, api: ApiClient, stub: StubProvider, runtime: RayRuntime
) -> None:
    stub.route("POST", "/pay", (status, {"error": "no"}))
    result = await call(runtime, await create(api, stub.url))
    assert outcome(result) == (False, "FLK-0256", 1, True)
    assert len(stub.calls("/pay")) == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_in_seconds_is_waited_out(
    status: int, api: ApiClient, stub: StubProvider, runtime: RayRuntime
) -> None:
    stub.route("POST", "/pay", [(status, None, {"Retry-After": "1"}), (200, {"paid": True})])
    result = await call(runtime, await create(api, stub.url))
    assert outcome(result) == (True, None, 2, True)
    assert gaps(stub.calls("/pay"))[0] >= 1.0 - SLACK


async def test_retry_after_as_an_http_date_is_waited_out(
    api: ApiClient, stub: StubProvider, runtime: RayRuntime
) -> None:
    arrived: list[float] = []
    until = float(int(time.time()) + 2)

    def answer(_body: Any, _request: Any) -> tuple[int, Any, dict[str, str]] | tuple[int, Any]:
        arrived.append(time.time())
        if len(arrived) == 1:
            return 429, None, {"Retry-After": formatdate(until, usegmt=True)}
        return 200, {"paid": True}

    stub.route("POST", "/pay", answer)
    result = await call(runtime, await create(api, stub.url))
    assert outcome(result) == (True, None, 2, True)
    assert arrived[1] >= until - SLACK, (arrived, until)


async def test_a_retry_after_over_the_bound_fails_the_call_at_once(
    api: ApiClient, stub: StubProvider, runtime: RayRuntime
) -> None:
    stub.route("POST", "/pay", (429, None, {"Retry-After": "30"}))
    result = await call(runtime, await create(api, stub.url))
    assert outcome(result) == (False, "FLK-0284", 1, True)
    assert result.error is not None and result.error.endswith(
        "not retried: the provider asked to wait 30 s (Retry-After), more than the 5 s allowed "
        "(FLOWKER_RETRY_AFTER_MAX_SECONDS)"
    )
    assert len(stub.calls("/pay")) == 1


@pytest.mark.parametrize("mode", ["reset", "hang"])
async def test_a_post_that_reached_the_provider_is_not_repeated_unless_the_node_says_so(
    mode: str, api: ApiClient, faults: FaultProvider, runtime: RayRuntime
) -> None:
    faults.mode = mode
    config_id = await create(api, faults.url)
    once = await call(runtime, config_id)
    assert outcome(once) == (False, "FLK-0256", 1, True)
    assert once.error is not None and "retryNonIdempotent is off" in once.error
    assert len(faults.arrivals) == 1

    faults.arrivals.clear()
    again = await call(runtime, config_id, retry=NodeRetry(max_attempts=3, retry_non_idempotent=True))
    assert outcome(again) == (False, "FLK-0256", 3, True)
    assert [a.method for a in faults.arrivals] == ["POST"] * 3
    assert len({a.idempotency_key for a in faults.arrivals}) == 1


@pytest.mark.parametrize("mode", ["reset", "hang"])
async def test_a_get_that_reached_the_provider_is_retried(
    mode: str, api: ApiClient, faults: FaultProvider, runtime: RayRuntime
) -> None:
    faults.script = [mode, mode, "answer"]
    result = await call(runtime, await create(api, faults.url), "status")
    assert result.ok, result
    assert [a.method for a in faults.arrivals] == ["GET"] * 3


async def test_a_post_to_a_provider_that_is_not_listening_is_retried_and_says_nothing_was_sent(
    api: ApiClient, faults: FaultProvider, runtime: RayRuntime
) -> None:
    config_id = await create(api, faults.url)
    await faults.__aexit__(None, None, None)
    result = await call(runtime, config_id)
    assert outcome(result) == (False, "FLK-0256", 5, False)
    assert result.error == "executor call failed after 5 attempts: network error (ClientConnectorError)"


async def test_a_slow_answer_within_the_timeout_is_one_attempt(
    api: ApiClient, stub: StubProvider, runtime: RayRuntime
) -> None:
    stub.route("POST", "/slow", (200, {"paid": True}), delay=0.5)
    result = await call(runtime, await create(api, stub.url), "slow")
    assert outcome(result) == (True, None, 1, True)
    assert len(stub.calls("/slow")) == 1


async def test_a_node_override_changes_attempts_and_gaps(
    api: ApiClient, stub: StubProvider, runtime: RayRuntime
) -> None:
    stub.route("POST", "/pay", (502, None))
    node = NodeRetry(max_attempts=3, initial_interval_ms=300, backoff_coefficient=1.0)
    result = await call(runtime, await create(api, stub.url), retry=node)
    assert outcome(result) == (False, "FLK-0256", 3, True)
    assert all(gap >= 0.3 - SLACK for gap in gaps(stub.calls("/pay"))), gaps(stub.calls("/pay"))


# --- Executions: the node's policy from the saved workflow, and the budget under load --------------------


def paying_workflow(executor_id: str, retry: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"executorConfigId": executor_id, "endpointName": "pay"}
    if retry is not None:
        data["retry"] = retry
    return {
        "name": f"pay-{uuid.uuid4().hex[:6]}",
        "nodes": [{"id": "start", "type": "trigger"}, {"id": "pay", "type": "executor", "data": data}],
        "edges": [{"id": "e1", "source": "start", "target": "pay"}],
    }


async def active_workflow(api: ApiClient, body: dict[str, Any]) -> str:
    created = await api.post("/v1/workflows", body)
    assert created.status == 201, created.text
    workflow_id = str(created.body["workflowId"])
    activated = await api.post(f"/v1/workflows/{workflow_id}/activate")
    assert activated.status == 200, activated.text
    return workflow_id


async def run(api: ApiClient, workflow_id: str) -> dict[str, Any]:
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{started.body['executionId']}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
        within=60,
    )
    return dict(reply.body)


async def test_an_execution_follows_the_retry_policy_saved_in_its_workflow(
    api: ApiClient, stub: StubProvider, runtime: RayRuntime
) -> None:
    stub.route("POST", "/pay", [(503, None), (503, None), (200, {"paid": True})])
    executor_id = await create(api, stub.url)
    workflow_id = await active_workflow(api, paying_workflow(executor_id, {"maxAttempts": 2}))
    failed = await run(api, workflow_id)
    assert failed["status"] == "failed", failed
    assert "failed after 2 attempts: provider answered HTTP 503" in failed["errorMessage"], failed
    assert len(stub.calls("/pay")) == 2


EXECUTIONS = 100
RATIO = 0.2
MINIMUM = 10


@pytest.mark.parametrize(
    "settings",
    [
        {
            "retry_budget_ratio": RATIO,
            "retry_budget_min_retries": MINIMUM,
            "retry_budget_window_seconds": 600.0,
        }
    ],
    indirect=True,
)
async def test_the_retry_budget_holds_for_a_hundred_concurrent_executions_sharing_one_configuration(
    api: ApiClient, stub: StubProvider, runtime: RayRuntime
) -> None:
    stub.route("POST", "/pay", (503, {"error": "down"}))
    workflow_id = await active_workflow(api, paying_workflow(await create(api, stub.url)))
    ended = await asyncio.gather(*(run(api, workflow_id) for _ in range(EXECUTIONS)))
    assert [e["status"] for e in ended] == ["failed"] * EXECUTIONS
    requests = len(stub.calls("/pay"))
    retries = requests - EXECUTIONS
    # Without a budget: 500 requests. With it: retries <= 0.2 * calls + 10 over the window.
    assert MINIMUM <= retries <= RATIO * EXECUTIONS + MINIMUM, requests
    # An execution the budget did not stop used all four of its retries.
    spent = [e for e in ended if "retry budget of executor configuration" in e["errorMessage"]]
    assert len(spent) >= EXECUTIONS - retries / 4, (len(spent), retries)
