"""The runtime under load and failure: idempotency races, many executions at once, the breaker, cancel."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ray.util.state import list_tasks

from flowker.actors.end_waiters import EndWaiters
from flowker.actors.runtime import RayRuntime, feed_of
from flowker.store.embedded import EmbeddedStore
from flowker.usecases import executions as executions_usecase
from tests.helpers.audit import all_events
from tests.helpers.breaker_flow import scoring_executor
from tests.helpers.client import ApiClient
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

SCORE = "/score"


def scoring_workflow(executor_id: str, name: str = "fraud score") -> dict[str, Any]:
    """trigger → executor (POST /score) → set_output."""
    return {
        "name": name,
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "score", "type": "executor", "data": {
                "executorConfigId": executor_id, "endpointName": "score",
                "inputMapping": [{"source": "workflow.txn", "target": "transactionId", "required": True}],
            }},
            {"id": "done", "type": "action",
             "data": {"actionType": "set_output", "output": {"scored": True}}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "score"},
            {"id": "e2", "source": "score", "target": "done"},
        ],
    }  # fmt: skip


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", SCORE, (200, {"score": 12}))
        yield stub


async def setup_workflow(
    api: ApiClient, provider: StubProvider, breaker: dict[str, Any] | None = None
) -> tuple[str, str]:
    executor = await api.post("/v1/executors", scoring_executor(provider, breaker))
    assert executor.status == 201, executor.text
    created = await api.post("/v1/workflows", scoring_workflow(executor.body["id"]))
    assert (await api.post(f"/v1/workflows/{created.body['workflowId']}/activate")).status == 200
    return created.body["workflowId"], executor.body["id"]


async def run(api: ApiClient, workflow_id: str, txn: str, key: str | None = None) -> dict[str, Any]:
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": txn}},
        headers={"Idempotency-Key": key or str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    return await finished(api, started.body["executionId"])


async def finished(api: ApiClient, execution_id: str, within: float = 30.0) -> dict[str, Any]:
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
        within=within,
    )
    return reply.body


async def test_fifty_concurrent_starts_with_one_key_create_one_execution(
    api: ApiClient, provider: StubProvider
) -> None:
    workflow_id, _ = await setup_workflow(api, provider)
    key = f"race-{uuid.uuid4()}"
    replies = await asyncio.gather(
        *(
            api.post(
                f"/v1/workflows/{workflow_id}/executions",
                {"inputData": {"txn": "T-1"}},
                headers={"Idempotency-Key": key},
            )
            for _ in range(50)
        )
    )
    assert {r.status for r in replies} <= {200, 201}, [r.text for r in replies if r.status not in (200, 201)]
    ids = {r.body["executionId"] for r in replies}
    assert len(ids) == 1
    await finished(api, ids.pop())
    listed = await api.get("/v1/executions", params={"workflowId": workflow_id, "limit": "100"})
    assert len(listed.body["items"]) == 1
    assert len(provider.calls(SCORE)) == 1


async def test_two_hundred_concurrent_executions_complete_with_a_verifiable_audit_chain(
    api: ApiClient, provider: StubProvider
) -> None:
    workflow_id, _ = await setup_workflow(api, provider)
    outcomes = await asyncio.gather(*(run(api, workflow_id, f"T-{i}") for i in range(200)))
    assert [o["status"] for o in outcomes] == ["completed"] * 200
    assert sorted(r.json["transactionId"] for r in provider.calls(SCORE)) == sorted(
        f"T-{i}" for i in range(200)
    )

    events = await all_events(api)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    per_execution = [e for e in events if e["resourceType"] == "execution"]
    # started, call started, call completed, completed: four events for each of the 200 executions
    assert len(per_execution) == 800
    verified = await api.get(f"/v1/audit-events/{events[-1]['eventId']}/verify")
    assert (verified.body["isValid"], verified.body["totalChecked"], verified.body["message"]) == (
        True,
        len(events),
        "hash chain is valid",
    )


async def test_breaker_opens_fails_fast_and_closes_after_a_successful_trial(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    provider.route("POST", SCORE, (503, {"error": "overloaded"}))
    # The suite's 1 s open window can lapse between the first run's end and the second run's call on a
    # loaded machine, which lets a half-open trial through; this executor keeps its breaker open for 4 s.
    workflow_id, executor_id = await setup_workflow(api, provider, {"waitDurationInOpenStateMs": 4000})

    first = await run(api, workflow_id, "T-1")
    assert first["status"] == "failed" and "after 5 attempts" in first["errorMessage"]
    assert len(provider.calls(SCORE)) == 5
    assert (await runtime.breaker(executor_id))["state"] == "open"

    second = await run(api, workflow_id, "T-2")
    assert second["status"] == "failed" and "circuit open" in second["errorMessage"]
    assert len(provider.calls(SCORE)) == 5  # failed fast: the provider was not called

    provider.route("POST", SCORE, (200, {"score": 3}))
    await eventually(lambda: runtime.breaker(executor_id), lambda b: b["state"] == "half_open", within=10)
    third = await run(api, workflow_id, "T-3")
    assert third["status"] == "completed"
    assert len(provider.calls(SCORE)) == 6
    assert (await runtime.breaker(executor_id))["state"] == "closed"


async def test_cancel_stops_before_the_next_step(api: ApiClient, provider: StubProvider) -> None:
    provider.route("POST", SCORE, (200, {"score": 1}), delay=1.5)
    workflow_id, _ = await setup_workflow(api, provider)
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": "T-9"}},
        headers={"Idempotency-Key": "c-1"},
    )
    execution_id = started.body["executionId"]
    await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"), lambda r: r.body["status"] == "running"
    )
    cancelled = await api.post(f"/v1/executions/{execution_id}/cancel")
    assert cancelled.status == 202
    final = await finished(api, execution_id)
    assert final["status"] == "cancelled"
    results = await api.get(f"/v1/executions/{execution_id}/results")
    # The call in flight finished and was recorded; the set_output step after it never ran.
    assert [s["nodeId"] for s in results.body["stepResults"]] == ["score"]
    assert "finalOutput" not in results.body
    (await api.post(f"/v1/executions/{execution_id}/cancel")).error(422, "FLK-0510")
    (await api.post(f"/v1/executions/{uuid.uuid4()}/cancel")).error(404, "FLK-0500")
    audit = await api.get(
        "/v1/audit-events", params={"resourceId": execution_id, "eventType": "EXECUTION_CANCELLED"}
    )
    assert len(audit.body["items"]) == 1


async def test_a_running_execution_is_listed_with_its_supervisor_and_is_no_ray_task(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime, ray_cluster: str
) -> None:
    provider.route("POST", SCORE, (200, {"score": 1}), delay=3)
    workflow_id, _ = await setup_workflow(api, provider)
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": "T-5"}},
        headers={"Idempotency-Key": "d-1"},
    )
    execution_id = started.body["executionId"]
    listed = await eventually(
        lambda: api.get("/v1/runtime/executions"),
        lambda r: execution_id in {i["executionId"] for i in r.body["items"]},
        within=10,
    )
    (item,) = [i for i in listed.body["items"] if i["executionId"] == execution_id]
    # A lone start runs in the front door that made it (architecture decision 1).
    assert item["supervisor"] == runtime.front_door_host and item["nodeId"]
    # It is an asyncio task there, not a Ray task: Ray keeps accounting per task name.
    named = await asyncio.to_thread(
        list_tasks, address=ray_cluster, filters=[("name", "=", f"execution:{execution_id}")]
    )
    assert named == []
    await finished(api, execution_id)


async def test_many_starts_at_once_are_handed_over_in_fewer_calls_than_starts(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    workflow_id, _ = await setup_workflow(api, provider)
    handed_over = runtime.start
    held: list[str] = []

    async def hold(execution_id: str, claimed: object = None) -> None:
        held.append(execution_id)

    # Every start goes to the pool: the front door runs none itself.
    monkeypatch.setattr(runtime, "start_lease", lambda: None)
    # The starts are made through the API (recorded pending), then handed over all at once.
    monkeypatch.setattr(runtime, "start", hold)
    replies = await asyncio.gather(
        *(
            api.post(
                f"/v1/workflows/{workflow_id}/executions",
                {"inputData": {"txn": f"T-{i}"}},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            for i in range(40)
        )
    )
    assert [r.status for r in replies] == [201] * 40 and len(held) == 40
    for execution_id in held:
        await handed_over(execution_id)  # queued without a Ray reply: nothing is sent before this yields
    outcomes = [await finished(api, execution_id) for execution_id in held]
    assert [o["status"] for o in outcomes] == ["completed"] * 40

    snapshots, errors = await runtime.snapshots()
    assert errors == {}
    counters = [s.counters for s in snapshots if s.kind == "supervisor"]
    starts = sum(c.get(("flowker_host_starts", (n,)), 0) for c in counters for n in _names(runtime))
    batches = sum(c.get(("flowker_host_batches", (n,)), 0) for c in counters for n in _names(runtime))
    assert starts == 40
    assert 1 <= batches <= runtime.config.supervisors < 40  # one hand-over per supervisor


def _names(runtime: RayRuntime) -> list[str]:
    return [runtime.config.name(f"supervisor-{i}") for i in range(runtime.config.supervisors)]


async def test_prefer_wait_is_told_of_the_end_without_polling_the_store(
    api: ApiClient, provider: StubProvider, store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The safety net far beyond the wait: an answer within the window can only come from being told.
    monkeypatch.setattr(executions_usecase, "WAIT_RECHECK_SECONDS", 600.0)
    provider.route("POST", SCORE, (200, {"score": 1}), delay=0.5)
    workflow_id, _ = await setup_workflow(api, provider)
    reads = 0
    get = store.executions.get

    async def counted(execution_id: str) -> Any:
        nonlocal reads
        reads += 1
        return await get(execution_id)

    monkeypatch.setattr(store.executions, "get", counted)
    reply = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": "T-w"}},
        headers={"Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=30"},
    )
    assert reply.status == 200, reply.text
    assert reply.headers["Preference-Applied"] == "wait=30"
    assert reply.body["status"] == "completed"
    # Read when told: the end, and at most once per supervisor whose feed's first answer was a gap,
    # plus the results document's own reads; polling every 50 ms for 0.5 s would be ten more.
    assert reads <= 2 * 2 + 2


async def test_a_run_this_front_door_did_not_start_is_told_too(
    api: ApiClient,
    provider: StubProvider,
    runtime: RayRuntime,
    store: EmbeddedStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    provider.route("POST", SCORE, (200, {"score": 1}), delay=0.5)
    workflow_id, _ = await setup_workflow(api, provider)
    # Run by a supervisor: a run of this front door's own is told in its process alone.
    monkeypatch.setattr(runtime, "start_lease", lambda: None)
    # Another front door's waiters over the same supervisors; their feeds' cursors first (a gap each).
    runtime.start_pool()
    other = EndWaiters(lambda: [feed_of(s) for s in runtime._supervisors])
    await other.wait("nothing", 30)
    await asyncio.sleep(0.5)  # the other feed's gap too
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": "T-o"}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    execution_id = started.body["executionId"]
    # As wait_for_end does, without its safety net: each return is the end or a feed's gap (a supervisor
    # slow to start may answer its first gap only now), never a timeout.
    for _ in range(1 + runtime.config.supervisors):
        # A wait that lasts its whole 60 s was never told: that is what this test is about.
        async with asyncio.timeout(55):
            await other.wait(execution_id, 60)
        execution = await store.executions.get(execution_id)
        assert execution is not None
        if execution.status.value == "completed":
            break
    assert execution.status.value == "completed"
    assert other.waiting == 0
    await other.close()


async def test_a_waiter_that_times_out_leaves_nothing_behind(
    api: ApiClient, provider: StubProvider, runtime: RayRuntime
) -> None:
    provider.route("POST", SCORE, (200, {"score": 1}), delay=3)
    workflow_id, _ = await setup_workflow(api, provider)
    reply = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"txn": "T-t"}},
        headers={"Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=0.5"},
    )
    assert reply.status == 201 and reply.body["status"] in ("pending", "running")
    assert runtime.waiting == 0
    # Its pollers stop after their long poll, as nobody waits any more.
    await eventually(lambda: _polling(runtime), lambda n: n == 0, within=30)
    await finished(api, reply.body["executionId"])


async def _polling(runtime: RayRuntime) -> int:
    return runtime.polling
