"""What crash and fault tests share: a runtime with fault injection, a two-step workflow, finding pids."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

from flowker.actors.faults import ARMED, PAUSE_DIR
from flowker.actors.runtime import RayRuntime
from flowker.cli import runtime_config
from flowker.settings import Settings
from tests.helpers.client import ApiClient
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

#: Short leases so that adoption after a crash is quick.
LEASE_SECONDS = 2.0


def faulty_runtime(
    settings: Settings, secret_key: str, points: Sequence[str] = (), lease_seconds: float = LEASE_SECONDS
) -> RayRuntime:
    """A runtime of this test's own whose processes stop (or raise) at ``points`` once armed."""
    config = dataclasses.replace(
        runtime_config(settings, prefix=f"c{uuid.uuid4().hex[:8]}-"),
        lease_seconds=lease_seconds,
        pause_points=tuple(points),
    )
    return RayRuntime(config, secret_key)


@contextlib.asynccontextmanager
async def ab_provider() -> AsyncIterator[StubProvider]:
    """A provider answering ``POST /a`` and ``POST /b`` with 200, for :func:`two_step_workflow`."""
    async with StubProvider() as stub:
        stub.route("POST", "/a", (200, {"a": 1}))
        stub.route("POST", "/b", (200, {"b": 2}))
        yield stub


def two_step_workflow(executor_id: str) -> dict[str, Any]:
    """trigger → a → b → done (set_output)."""
    return {
        "name": f"two steps {uuid.uuid4().hex[:6]}",
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "a", "type": "executor", "data": {"executorConfigId": executor_id, "endpointName": "a"}},
            {"id": "b", "type": "executor", "data": {"executorConfigId": executor_id, "endpointName": "b"}},
            {"id": "done", "type": "action", "data": {"actionType": "set_output", "output": {"ok": True}}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "a"},
            {"id": "e2", "source": "a", "target": "b"},
            {"id": "e3", "source": "b", "target": "done"},
        ],
    }


def arm(settings: Settings) -> None:
    """From now on the runtime's processes stop (or raise) at their fault points, once each."""
    pauses = settings.data_dir / PAUSE_DIR
    pauses.mkdir(parents=True, exist_ok=True)
    (pauses / ARMED).touch()


async def prepare(
    api: ApiClient, provider: StubProvider, settings: Settings, *, armed: bool = True
) -> tuple[str, str]:
    """An executor configuration for ``provider``'s ``/a`` and ``/b``, the active two-step workflow over
    it; then the fault points are armed. Returns (workflow id, executor configuration id)."""
    executor = await api.post(
        "/v1/executors",
        {
            "name": f"crash-{uuid.uuid4().hex[:6]}",
            "baseUrl": provider.url,
            "endpoints": [
                {"name": "a", "path": "/a", "method": "POST"},
                {"name": "b", "path": "/b", "method": "POST"},
            ],
            "authentication": {"type": "none"},
        },
    )
    workflow = await api.post("/v1/workflows", two_step_workflow(executor.body["id"]))
    assert (await api.post(f"/v1/workflows/{workflow.body['workflowId']}/activate")).status == 200
    if armed:
        arm(settings)
    return workflow.body["workflowId"], executor.body["id"]


async def start(api: ApiClient, workflow_id: str) -> str:
    started = await api.post(
        f"/v1/workflows/{workflow_id}/executions",
        {"inputData": {"n": 1}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert started.status == 201, started.text
    return started.body["executionId"]


async def finished(api: ApiClient, execution_id: str, within: float = 60.0) -> dict[str, Any]:
    """The execution's status document once it has ended."""
    reply = await eventually(
        lambda: api.get(f"/v1/executions/{execution_id}"),
        lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
        within=within,
    )
    return reply.body


async def paused_pid(settings: Settings, point: str) -> int:
    """The pid of the process that stopped at ``point``."""
    marker = settings.data_dir / PAUSE_DIR / point

    async def read() -> str:
        return marker.read_text() if marker.exists() else ""

    text = await eventually(read, lambda t: t.count("\n") >= 2, within=30)
    return int(text.split("\n")[0])


async def host_pid(runtime: RayRuntime, execution_id: str) -> int:
    """The pid of the supervisor that hosts the execution."""
    runtime.start_pool()
    for supervisor in runtime._supervisors:
        if execution_id in await supervisor.hosted.remote():
            return await supervisor.pid.remote()
    raise AssertionError(f"no supervisor hosts {execution_id}")


def kill(pid: int, signum: int = signal.SIGKILL) -> None:
    os.kill(pid, signum)
