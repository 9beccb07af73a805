"""Seeing what is live on the real runtime: ``flowker ps`` (a separate process, through the API) lists an
execution that is running during the test, held by its provider, with the process hosting it (the front
door that started it, for a lone start); no Ray task is named after it (it is an asyncio task there), and
the actors' reprs say what each actor is."""

from __future__ import annotations

import asyncio
import os
import sys

from ray.util.state import list_actors, list_tasks

from flowker.actors.runtime import RayRuntime
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.helpers.holding_provider import holding
from tests.helpers.metrics import run_one
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider


async def _flowker(*args: str) -> tuple[int, str, str]:
    env = {**os.environ, "FLOWKER_API_KEY": API_KEY}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "flowker", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode is not None
    return child.returncode, out.decode(), err.decode()


async def test_flowker_ps_lists_an_execution_while_it_runs(
    api: ApiClient, server: str, runtime: RayRuntime, ray_cluster: str
) -> None:
    runtime.start_pool()  # as `flowker serve` does before it listens
    async with StubProvider() as provider:
        hold = holding(provider)
        run = await run_one(api, provider.url, wait=False)
        await asyncio.wait_for(hold.arrived.wait(), 60)

        status, out, err = await _flowker("ps", "--url", server)
        assert status == 0, err
        (row,) = [line for line in out.splitlines() if run.execution_id in line]
        supervisors = {runtime.config.name(f"supervisor-{i}") for i in range(runtime.config.supervisors)}
        cells = row.split()
        assert cells[1] == run.workflow_id and cells[2] == "running" and cells[4] == "call"
        # A lone start runs in the front door that made it (decision 1), which ps names as its host.
        assert runtime.front_door_host is not None and cells[5] == runtime.front_door_host

        status, out, err = await _flowker("executions", "show", run.execution_id, "--url", server)
        assert status == 0, err
        assert "Status     running" in out and "calling: call" in out

        # What the Ray dashboard shows: no task named after the execution (it is an asyncio task in the
        # supervisor ps names; Ray would keep accounting per task name); the actors' reprs (taken by Ray
        # when they start) say what they are.
        tasks = await asyncio.to_thread(
            list_tasks, address=ray_cluster, filters=[("name", "=", f"execution:{run.execution_id}")]
        )
        assert tasks == []
        for _ in range(100):  # the supervisors' reprs are taken once their processes are up
            actors = await asyncio.to_thread(list_actors, address=ray_cluster, detail=True, limit=10_000)
            reprs = {a.name: a.repr_name for a in actors if a.name.startswith(runtime.config.prefix)}
            if all(reprs.get(name) for name in supervisors):
                break
            await asyncio.sleep(0.2)
        for name in supervisors:
            assert reprs[name].startswith(f"SupervisorActor({name}, node ")
        executor = reprs[runtime.config.name(f"executor:{run.executor_id}")]
        assert executor == f"ExecutorActor(configuration {run.executor_id}, breaker closed at start)"
        assert reprs[runtime.config.name("audit")].startswith("AuditActor(")

        hold.release()
        await eventually(
            lambda: api.get(f"/v1/executions/{run.execution_id}"),
            lambda r: r.body["status"] == "completed",
            within=60,
        )
    status, out, _err = await _flowker("ps", "--url", server)
    assert status == 0 and run.execution_id not in out
