"""The engine never loops and never lies, on the real runtime: runs end once, leases fence, cancel
tells the truth, and a change whose audit hand-over fails is kept and answered."""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psutil
import pytest

from flowker.actors import factory
from flowker.actors.runtime import RayRuntime
from flowker.settings import Settings
from flowker.usecases import outbox
from tests.helpers.audit import all_events
from tests.helpers.client import ApiClient
from tests.helpers.crash import (
    LEASE_SECONDS,
    ab_provider,
    arm,
    faulty_runtime,
    finished,
    host_pid,
    kill,
    paused_pid,
    prepare,
    start,
)
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

HTTP_ACTOR_TYPE = "api_key"


@pytest.fixture
def faults() -> list[str]:
    return []


@pytest.fixture
async def runtime(
    ray_cluster: str, settings: Settings, secret_key: str, faults: list[str]
) -> AsyncIterator[RayRuntime]:
    started = faulty_runtime(settings, secret_key, faults)
    yield started
    await started.close()


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with ab_provider() as stub:
        yield stub


async def events_of(api: ApiClient, execution_id: str) -> list[dict[str, Any]]:
    return [e for e in await all_events(api) if e["resourceId"] == execution_id]


async def chain_verifies(api: ApiClient) -> None:
    events = await all_events(api)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    verified = await api.get(f"/v1/audit-events/{events[-1]['eventId']}/verify")
    assert verified.body["isValid"] is True, verified.body


@pytest.mark.parametrize("faults", [["raise:after_call"]])
async def test_an_unexpected_exception_fails_the_run_after_exactly_one_call(
    api: ApiClient, provider: StubProvider, settings: Settings
) -> None:
    workflow_id, _ = await prepare(api, provider, settings)
    execution_id = await start(api, workflow_id)
    final = await finished(api, execution_id)
    assert final["status"] == "failed", final
    assert final["errorMessage"] == "internal error: InjectedFault: fault injected at after_call"
    # Three leases later nobody has adopted it and called again.
    await asyncio.sleep(3 * LEASE_SECONDS)
    assert len(provider.calls("/a")) == 1
    assert provider.calls("/b") == []
    assert (await api.get(f"/v1/executions/{execution_id}")).body["status"] == "failed"
    types = [e["eventType"] for e in await events_of(api, execution_id)]
    # The result the run could not apply is not recorded as completed.
    assert types == ["EXECUTION_STARTED", "PROVIDER_CALL_STARTED", "EXECUTION_FAILED"]
    await chain_verifies(api)


async def test_an_endpoint_removed_while_an_execution_runs_fails_the_run_once(
    api: ApiClient, provider: StubProvider, settings: Settings
) -> None:
    """The execution runs the workflow as it was when it started; meanwhile the workflow is
    deactivated and endpoint ``b`` removed from the configuration. Step b fails, once; nothing re-sends."""
    provider.route("POST", "/a", (200, {"a": 1}), delay=1.5)
    workflow_id, executor_id = await prepare(api, provider, settings, armed=False)
    execution_id = await start(api, workflow_id)
    await eventually(lambda: asyncio.sleep(0, provider.calls("/a")), bool)
    assert (await api.post(f"/v1/workflows/{workflow_id}/deactivate")).status == 200
    patched = await api.patch(
        f"/v1/executors/{executor_id}", {"endpoints": [{"name": "a", "path": "/a", "method": "POST"}]}
    )
    assert patched.status == 200, patched.text
    final = await finished(api, execution_id)
    assert final["status"] == "failed", final
    assert "'b'" in final["errorMessage"], final
    await asyncio.sleep(3 * LEASE_SECONDS)
    assert len(provider.calls("/a")) == 1
    assert provider.calls("/b") == []
    assert (await api.get(f"/v1/executions/{execution_id}")).body["status"] == "failed"
    await chain_verifies(api)


async def test_a_supervisor_that_lost_its_lease_never_commits(
    api: ApiClient, provider: StubProvider, settings: Settings, runtime: RayRuntime
) -> None:
    """The host is frozen (SIGSTOP) during the first call; another supervisor adopts the run when the
    lease runs out, calls again and finishes it. Thawed, the first one's result is refused."""
    provider.route("POST", "/a", (200, {"a": 1}), delay=1.0)
    workflow_id, _ = await prepare(api, provider, settings, armed=False)
    execution_id = await start(api, workflow_id)
    await eventually(lambda: asyncio.sleep(0, provider.calls("/a")), bool)
    frozen = await host_pid(runtime, execution_id)
    kill(frozen, signal.SIGSTOP)
    try:
        final = await finished(api, execution_id)
    finally:
        kill(frozen, signal.SIGCONT)
    assert final["status"] == "completed", final
    # The thawed supervisor gets its answer for /a now; give it time to try to commit it.
    await asyncio.sleep(2 * LEASE_SECONDS)
    results = await api.get(f"/v1/executions/{execution_id}/results")
    assert [(s["stepNumber"], s["nodeId"]) for s in results.body["stepResults"]] == [
        (1, "a"),
        (2, "b"),
        (3, "done"),
    ]
    assert len(provider.calls("/a")) == 2
    assert len(provider.calls("/b")) == 1
    events = await events_of(api, execution_id)
    completed_a = [
        e for e in events if e["eventType"] == "PROVIDER_CALL_COMPLETED" and e["metadata"]["nodeId"] == "a"
    ]
    assert [e["metadata"]["runAttempt"] for e in completed_a] == [2]
    repeats = [e for e in events if e["eventType"] == "PROVIDER_CALL_STARTED" and e["metadata"].get("repeat")]
    assert [(e["metadata"]["nodeId"], e["metadata"]["runAttempt"]) for e in repeats] == [("a", 2)]
    assert [e["eventType"] for e in events].count("EXECUTION_COMPLETED") == 1
    await chain_verifies(api)


async def test_two_runs_of_one_execution_on_one_supervisor_drive_it_once(
    api: ApiClient, provider: StubProvider, settings: Settings, runtime: RayRuntime
) -> None:
    provider.route("POST", "/a", (200, {"a": 1}), delay=2.0)
    workflow_id, _ = await prepare(api, provider, settings, armed=False)
    execution_id = await start(api, workflow_id)
    supervisor = runtime._supervisors[runtime._index(execution_id)]  # the one its id routes to
    await eventually(lambda: asyncio.sleep(0, provider.calls("/a")), bool)  # the first run drives it
    again = await asyncio.gather(
        *(supervisor.host.remote([(execution_id, None), (execution_id, None)]) for _ in range(5))
    )
    # Refused while the first run drives it, even twice in one batch: none is hosted a second time.
    assert again == [0] * 5, again
    assert (await finished(api, execution_id))["status"] == "completed"
    assert len(provider.calls("/a")) == 1 and len(provider.calls("/b")) == 1


def cpu_seconds(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


@pytest.mark.parametrize(
    ("last_step", "status"),
    [(False, "cancelled"), (True, "completed")],
    ids=["work-left-undone", "last-step-in-flight"],
)
async def test_a_cancel_during_a_long_call_waits_idle_and_records_the_call(
    api: ApiClient,
    provider: StubProvider,
    settings: Settings,
    runtime: RayRuntime,
    last_step: bool,
    status: str,
) -> None:
    provider.route("POST", "/b", (200, {"b": 2}), delay=5.0)
    workflow_id, _ = await prepare(api, provider, settings, armed=False)
    if last_step:
        # trigger → a → b, nothing after b.
        workflow = await api.get(f"/v1/workflows/{workflow_id}")
        definition = {
            "name": f"ends with b {uuid.uuid4().hex[:6]}",
            "nodes": [n for n in workflow.body["nodes"] if n["id"] != "done"],
            "edges": [e for e in workflow.body["edges"] if e["target"] != "done"],
        }
        created = await api.post("/v1/workflows", definition)
        workflow_id = created.body["workflowId"]
        assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    execution_id = await start(api, workflow_id)
    await eventually(lambda: asyncio.sleep(0, provider.calls("/b")), bool)
    cancelled = await api.post(f"/v1/executions/{execution_id}/cancel")
    assert cancelled.status == 202, cancelled.text
    host = await host_pid(runtime, execution_id)
    before = cpu_seconds(host)
    await asyncio.sleep(3.0)
    spent = cpu_seconds(host) - before
    # A busy loop would have burned most of the 3 s; waiting costs the supervisor next to nothing.
    assert spent < 0.5, f"the supervisor used {spent:.2f} s of CPU in 3 s while waiting"

    final = await finished(api, execution_id)
    assert final["status"] == status, final
    results = (await api.get(f"/v1/executions/{execution_id}/results")).body
    steps = [(s["nodeId"], s["status"]) for s in results["stepResults"]]
    assert steps == [("a", "completed"), ("b", "completed")]
    assert results["stepResults"][1]["output"]["body"] == {"b": 2}
    if last_step:
        assert results["finalOutput"]["b"]["body"] == {"b": 2}
    else:
        assert "finalOutput" not in results

    events = await events_of(api, execution_id)
    by_type = {e["eventType"]: e for e in events}
    requested = by_type["EXECUTION_CANCEL_REQUESTED"]
    assert requested["actor"]["type"] == HTTP_ACTOR_TYPE and requested["actor"]["ipAddress"] == "127.0.0.1"
    ending = by_type["EXECUTION_CANCELLED" if status == "cancelled" else "EXECUTION_COMPLETED"]
    assert ending["actor"] == requested["actor"]
    assert [e["eventType"] for e in events].count("PROVIDER_CALL_COMPLETED") == 2
    await chain_verifies(api)


@pytest.mark.parametrize("faults", [["audit_before_write"]])
async def test_a_change_whose_audit_hand_over_hangs_is_kept_and_answered(
    api: ApiClient,
    provider: StubProvider,
    settings: Settings,
    runtime: RayRuntime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox, "PUBLISH_WAIT_SECONDS", 1.0)
    runtime.start_pool()
    arm(settings)
    created = await api.post(
        "/v1/executors",
        {
            "name": f"kept-{uuid.uuid4().hex[:6]}",
            "baseUrl": provider.url,
            "endpoints": [{"name": "a", "path": "/a", "method": "POST"}],
            "authentication": {"type": "none"},
        },
    )
    # The audit actor hangs in its write: the change was made, so the client hears that it was.
    assert created.status == 201, created.text
    config_id = created.body["id"]
    assert (await api.get(f"/v1/executors/{config_id}")).status == 200
    kill(await paused_pid(settings, "audit_before_write"))
    # Its restarted self chains what the outbox kept.
    events = await eventually(
        lambda: all_events(api),
        lambda found: any(e["resourceId"] == config_id for e in found),
        within=30,
    )
    mine = [e for e in events if e["resourceId"] == config_id]
    assert [e["eventType"] for e in mine] == ["EXECUTOR_CONFIG_CREATED"]
    assert mine[0]["actor"]["type"] == HTTP_ACTOR_TYPE
    await chain_verifies(api)
    assert await factory.audit(runtime.config).pid.remote() > 0
