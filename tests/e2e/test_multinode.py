"""Flowker on a Ray cluster of three nodes (one machine, ``ray.cluster_utils.Cluster``), two front doors.

Two ``flowker serve`` processes join the cluster (``RAY_ADDRESS``) over one embedded store and share its
actors. Executions go through both; the supervisors and executor actors are spread over the nodes (the
state API says where each one runs). Then a worker node that hosts some of them is killed while
executions are in flight: every acknowledged execution still completes exactly once (each provider call
of it carries its one Idempotency-Key, repeated calls included), the actors that died with the node
live again on the others. The first front door, which made the actors, then stops: the second one goes
on running executions on them. The audit chain verifies.

The cluster runs in a child process (:mod:`tests.helpers.ray_nodes`): this process may hold the session's
own local Ray. Selected by ``pytest -k multinode``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from ray.util.state import list_actors

from flowker.actors.placement import node_for_index, node_for_key
from tests.helpers.audit import all_events
from tests.helpers.client import ApiClient
from tests.helpers.holding_provider import holding
from tests.helpers.polling import eventually
from tests.helpers.serve import Serve, serve_env
from tests.helpers.stub_provider import StubProvider

pytestmark = pytest.mark.ray

API_KEY = "multinode-" + uuid.uuid4().hex
STEPS = ("s1", "s2", "s3")
#: Executions started before the node is lost, and while it is being lost.
BEFORE, DURING = 18, 6
#: Each provider call takes this long: executions are in flight when the node goes.
CALL_SECONDS = 0.4


@dataclass
class Nodes:
    """The child process that holds the cluster."""

    process: subprocess.Popen[str]
    address: str
    dashboard: str
    ids: dict[str, str]

    def remove(self, name: str) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(f"remove {name}\n")
        self.process.stdin.flush()
        assert json.loads(self.process.stdout.readline()) == {"removed": name}

    def name_of(self, node_id: str) -> str:
        return next(name for name, known in self.ids.items() if known == node_id)


@pytest.fixture
def ray_tmp() -> Iterator[str]:
    # Ray's socket paths must stay short: not pytest's deep tmp_path.
    temp = tempfile.mkdtemp(prefix="fk-mn-", dir="/tmp")
    yield temp
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def nodes(ray_tmp: str) -> Iterator[Nodes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.ray_nodes", ray_tmp, "2"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line, "the cluster did not start"
        report = json.loads(line)
        yield Nodes(process, report["address"], report["dashboard"], report["nodes"])
    finally:
        if process.stdin is not None:
            process.stdin.write("stop\n")
            process.stdin.close()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()


@pytest.fixture
async def provider() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        for step in STEPS:
            stub.route("POST", f"/{step}", (200, {step: True}), delay=CALL_SECONDS)
        yield stub


@dataclass
class Door:
    serve: Serve
    url: str


@pytest.fixture
async def doors(nodes: Nodes, ray_tmp: str, tmp_path: Path) -> AsyncIterator[list[Door]]:
    """Two front doors on the cluster, one data directory; the first makes the actors."""
    env = _cluster_env(nodes, ray_tmp, tmp_path, supervisors=3, FLOWKER_RETRY_BACKOFF_SECONDS="0.05")
    started: list[Serve] = []
    try:
        made = []
        for name in ("a", "b"):  # one after the other: the first makes the data directory's keys
            door = Serve(env, tmp_path / f"door-{name}.log")
            started.append(door)
            made.append(Door(door, (await door.abanner())["url"]))
            assert "Ray cluster: 3 node(s) on 1 host(s)" in door.log.read_text()
        yield made
    finally:
        for door in started:
            await asyncio.to_thread(door.stop)


def _cluster_env(
    nodes: Nodes, ray_tmp: str, tmp_path: Path, *, supervisors: int, **extra: str
) -> dict[str, str]:
    """The environment of a front door that joins the cluster: one data directory, 2 s leases."""
    return serve_env(
        tmp_path / "data",
        ray_tmp,
        RAY_ADDRESS=nodes.address,
        RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0",
        FLOWKER_API_KEYS=API_KEY,
        FLOWKER_SECRET_KEY=base64.urlsafe_b64encode(os.urandom(32)).decode(),
        FLOWKER_SUPERVISORS=str(supervisors),
        FLOWKER_LEASE_SECONDS="2",
        **extra,
    )


def _workflow(executors: list[str], names: tuple[str, ...] = STEPS) -> dict[str, Any]:
    """trigger → s1 → s2 → s3 (or the steps ``names``), each through an executor configuration of its own."""
    steps = [
        {"id": step, "type": "executor", "data": {"executorConfigId": executor, "endpointName": step}}
        for step, executor in zip(names, executors, strict=True)
    ]
    chain = ["start", *names]
    return {
        "name": f"multinode {uuid.uuid4().hex[:6]}",
        "nodes": [{"id": "start", "type": "trigger"}, *steps],
        "edges": [
            {"id": f"e{i}", "source": source, "target": target}
            for i, (source, target) in enumerate(itertools.pairwise(chain))
        ],
    }


async def _executor(api: ApiClient, provider: StubProvider, step: str) -> str:
    made = await api.post(
        "/v1/executors",
        {
            "name": f"mn-{step}-{uuid.uuid4().hex[:6]}",
            "baseUrl": provider.url,
            "endpoints": [{"name": step, "path": f"/{step}", "method": "POST", "timeout": 10}],
            "authentication": {"type": "none"},
        },
    )
    assert made.status == 201, made.text
    config_id: str = made.body["id"]
    return config_id


async def _prepare(api: ApiClient, provider: StubProvider, node_ids: list[str]) -> tuple[str, list[str]]:
    """The active workflow whose three steps' executor actors go to three different nodes (configurations
    are made until their ids hash to every node: placement is a hash of the id). Returns the workflow's id
    and the executor configurations' ids, step by step."""
    by_node: dict[str, str] = {}
    for _ in range(60):
        config_id = await _executor(api, provider, STEPS[len(by_node)])
        node = node_for_key(config_id, node_ids)
        assert node is not None
        if node not in by_node:
            by_node[node] = config_id
        if len(by_node) == len(STEPS):
            break
    executors = list(by_node.values())
    assert len(executors) == len(STEPS)
    workflow = await api.post("/v1/workflows", _workflow(executors))
    assert workflow.status == 201, workflow.text
    workflow_id: str = workflow.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
    return workflow_id, executors


async def _start(api: ApiClient, workflow_id: str) -> str | None:
    """The execution's id once acknowledged (201); None when the request was not."""
    try:
        reply = await api.post(
            f"/v1/workflows/{workflow_id}/executions",
            {"inputData": {}},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
    except aiohttp.ClientError:
        return None
    return reply.body["executionId"] if reply.status == 201 else None


async def _placement(nodes: Nodes) -> dict[str, str]:
    """Name of each live Flowker actor → name of its node, from Ray's state API."""
    actors = await asyncio.to_thread(
        list_actors, address=nodes.dashboard, filters=[("state", "=", "ALIVE")], limit=1000
    )
    return {a.name: nodes.name_of(a.node_id) for a in actors if a.name}


def _host(execution_id: str) -> str:
    """The supervisor a front door hands the execution to (a hash of its id, as the runtime routes)."""
    return f"supervisor-{int(hashlib.sha256(execution_id.encode()).hexdigest()[:8], 16) % 3}"


def _kind(actor: str) -> str:
    return actor.split(":")[0].split("-")[0]


async def test_multinode_cluster_loses_a_worker_node_and_no_acknowledged_execution(
    nodes: Nodes, doors: list[Door], provider: StubProvider
) -> None:
    async with (
        aiohttp.ClientSession(doors[0].url, headers={"X-API-Key": API_KEY}) as first,
        aiohttp.ClientSession(doors[1].url, headers={"X-API-Key": API_KEY}) as second,
    ):
        apis = [ApiClient(first), ApiClient(second)]
        node_ids = list(nodes.ids.values())
        workflow_id, executor_ids = await _prepare(apis[0], provider, node_ids)
        # A first execution makes the three executor actors.
        first_run = await _start(apis[1], workflow_id)
        await eventually(
            lambda: apis[1].get(f"/v1/executions/{first_run}"),
            lambda r: r.body["status"] == "completed",
            within=60,
        )
        # Both front doors run executions (each made by the other's workflow: one store).
        acknowledged = [await _start(apis[i % 2], workflow_id) for i in range(BEFORE)]
        assert None not in acknowledged
        await eventually(lambda: asyncio.sleep(0, len(provider.requests)), lambda n: n >= len(STEPS) + BEFORE)

        # A supervisor on every node, and an executor actor on every node: each where placement says.
        placed = await eventually(
            lambda: _placement(nodes),
            lambda p: (
                sum(_kind(a) == "executor" for a in p) == len(STEPS)
                and sum(_kind(a) == "supervisor" for a in p) == 3
            ),
        )
        expected = {f"supervisor-{i}": nodes.name_of(node_for_index(i, node_ids) or "") for i in range(3)}
        expected |= {f"executor:{e}": nodes.name_of(node_for_key(e, node_ids) or "") for e in executor_ids}
        assert {a: n for a, n in placed.items() if a != "audit"} == expected
        assert {n for a, n in placed.items() if _kind(a) == "supervisor"} == set(nodes.ids)
        assert {n for a, n in placed.items() if _kind(a) == "executor"} == set(nodes.ids)
        assert "audit" in placed, placed

        # Lose the worker that hosts the most of them, while executions are in flight.
        hosted = Counter(n for a, n in placed.items() if n != "head" and a != "audit")
        victim = max(sorted(hosted), key=lambda n: hosted[n])
        lost = sorted(a for a, n in placed.items() if n == victim)
        calls_before = len(provider.requests)
        # Executions whose last call has not come yet are in flight; some are hosted on the lost node.
        unfinished = set(acknowledged) - {c.headers["Idempotency-Key"][:-3] for c in provider.calls("/s3")}
        lost_hosts = {a for a in lost if _kind(a) == "supervisor"}
        assert lost_hosts and {e for e in unfinished if _host(e) in lost_hosts}, (lost, unfinished)
        during = asyncio.gather(*(_start(apis[i % 2], workflow_id) for i in range(DURING)))
        await asyncio.to_thread(nodes.remove, victim)
        acknowledged += await during
        done = [first_run, *(e for e in acknowledged if e is not None)]
        assert len(done) >= BEFORE

        # Every acknowledged execution completes, each step once.
        for execution_id in done:
            final = await eventually(
                lambda e=execution_id: apis[1].get(f"/v1/executions/{e}"),
                lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
                within=60,
            )
            assert final.body["status"] == "completed", final.body
            results = await apis[0].get(f"/v1/executions/{execution_id}/results")
            assert [s["nodeId"] for s in results.body["stepResults"]] == list(STEPS), results.body

        # The actors lost with the node run again on the nodes left.
        again = await eventually(lambda: _placement(nodes), lambda p: all(a in p for a in lost))
        assert all(again[a] != victim for a in lost), again
        assert len(provider.requests) > calls_before

        # One key per execution and step, whatever was repeated after the node died.
        for step in STEPS:
            keys = Counter(c.headers["Idempotency-Key"] for c in provider.calls(f"/{step}"))
            assert {f"{e}:{step}" for e in done} <= set(keys), step
            assert all(key.endswith(f":{step}") for key in keys)

        # The actors belong to the cluster, not to the front door that made them: without it, the other
        # front door's executions still run.
        assert await asyncio.to_thread(doors[0].serve.stop) == 0
        later = [await _start(apis[1], workflow_id) for _ in range(3)]
        assert None not in later
        for execution_id in later:
            final = await eventually(
                lambda e=execution_id: apis[1].get(f"/v1/executions/{e}"),
                lambda r: r.body["status"] in ("completed", "failed", "cancelled"),
                within=60,
            )
            assert final.body["status"] == "completed", final.body
        assert (await _placement(nodes)).keys() == again.keys()

        events = await all_events(apis[1])
        assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
        assert len({e["eventId"] for e in events}) == len(events)
        for execution_id in done:
            mine = Counter(e["eventType"] for e in events if e["resourceId"] == execution_id)
            assert mine["EXECUTION_STARTED"] == 1 and mine["EXECUTION_COMPLETED"] == 1, mine
        verified = await apis[1].get(f"/v1/audit-events/{events[-1]['eventId']}/verify")
        assert verified.body["isValid"] is True, verified.body


async def test_multinode_front_door_killed_mid_call_leaves_its_execution_to_a_supervisor(
    nodes: Nodes, ray_tmp: str, tmp_path: Path
) -> None:
    """A lone start runs in the front door that made it; when that process is killed mid-call, a
    supervisor adopts the execution once its lease lapses and completes it, the call repeated once with
    the same Idempotency-Key and the adoption in the audit trail."""
    env = _cluster_env(nodes, ray_tmp, tmp_path, supervisors=1)
    async with StubProvider() as stub:
        hold = holding(stub, "/s1")
        first = Serve(env, tmp_path / "door-first.log")
        try:
            url = (await first.abanner())["url"]
            async with aiohttp.ClientSession(url, headers={"X-API-Key": API_KEY}) as session:
                api = ApiClient(session)
                executor = await _executor(api, stub, "s1")
                made = await api.post("/v1/workflows", _workflow([executor], ("s1",)))
                assert made.status == 201, made.text
                workflow_id = made.body["workflowId"]
                assert (await api.post(f"/v1/workflows/{workflow_id}/activate")).status == 200
                execution_id = await _start(api, workflow_id)
                assert execution_id is not None
                await asyncio.wait_for(hold.arrived.wait(), 60)
                listed = await api.get("/v1/runtime/executions")
                (item,) = [i for i in listed.body["items"] if i["executionId"] == execution_id]
                assert item["supervisor"].startswith("front-door-")
        finally:
            await asyncio.to_thread(first.stop, signal.SIGKILL)
        hold.release()
        second = Serve(env, tmp_path / "door-second.log")
        try:
            url = (await second.abanner())["url"]
            async with aiohttp.ClientSession(url, headers={"X-API-Key": API_KEY}) as session:
                api = ApiClient(session)
                done = await eventually(
                    lambda: api.get(f"/v1/executions/{execution_id}"),
                    lambda r: r.body.get("status") == "completed",
                    within=60,
                )
                assert done.body["status"] == "completed"
                events = [e for e in await all_events(api) if e["resourceId"] == execution_id]
        finally:
            await asyncio.to_thread(second.stop)
    keys = [call.headers.get("Idempotency-Key") for call in stub.calls("/s1")]
    assert keys == [f"{execution_id}:s1"] * 2
    types = [e["eventType"] for e in events]
    assert types.count("EXECUTION_RESUMED") == 1 and types[-1] == "EXECUTION_COMPLETED"
