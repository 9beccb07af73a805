"""Joining or starting the Ray cluster that hosts Flowker's actors (namespace ``flowker``)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import ray

from flowker.actors.cluster_hosts import NodeHost, live_nodes, refusal

NAMESPACE = "flowker"
TOKEN_FILE = Path.home() / ".ray" / "auth_token"

#: Ray settings for this process and every Ray process it starts, unless the environment sets them.
#:
#: Metrics collection is off. Ray labels its task metrics with each task's name, and every execution
#: was a task named ``execution:<id>`` (executions are asyncio tasks in the supervisors now, handed
#: over in batches; measured then, and kept off for the tasks that remain): each execution added
#: metric series that the front door (the task's owner), its supervisor and the dashboard agent kept
#: and exported again every few seconds, for good. Over 50,000 executions the front door grew from
#: 179 to 1,769 MiB RSS and kept growing by 3 MB/s once idle; the supervisors from 151 to 288 MiB.
#: The dashboard's task list comes from task events, not from metrics.
#: ``RAY_enable_metrics_collection=1`` turns the metrics back on.
#:
#: The GCS keeps the task events of 30,000 tasks (Ray's default: 100,000) and remembers 100,000
#: evicted ones (default: 1,000,000). It evicts finished tasks first. With Ray's defaults the GCS grew
#: from 80 to 376 MiB over 50,000 executions (each then a task of its own, plus its provider calls);
#: with these, to 159 MiB.
RAY_ENVIRONMENT = {
    "RAY_enable_metrics_collection": "0",
    "RAY_task_events_max_num_task_in_gcs": "30000",
    "RAY_task_events_max_dropped_task_attempts_tracked_per_job_in_gcs": "100000",
}


@dataclass(frozen=True)
class ClusterInfo:
    """What ``flowker serve`` tells the operator about the cluster it runs on."""

    dashboard_url: str | None
    started_here: bool
    #: The cluster's live nodes when Flowker joined it.
    nodes: tuple[NodeHost, ...]
    #: Where Ray keeps the token its dashboard asks for (Ray's token authentication is on by default).
    token_file: Path | None = None

    @property
    def alive_nodes(self) -> int:
        """How many nodes were alive."""
        return len(self.nodes)


def connect(address: str | None) -> ClusterInfo:
    """Join the cluster at ``address``, or start a local one (with its dashboard on 127.0.0.1)."""
    started_here = address is None
    for name, value in RAY_ENVIRONMENT.items():
        # Before ray.init: read by this process's core worker, inherited by the processes Ray starts.
        os.environ.setdefault(name, value)
    if started_here:
        loopback_only()
    # Options that shape a new cluster are refused by Ray when joining an existing one.
    local = {"include_dashboard": True, "dashboard_host": "127.0.0.1"} if started_here else {}
    context = ray.init(
        address=address or "local", namespace=NAMESPACE, logging_level=logging.WARNING, **local
    )
    url = context.dashboard_url
    return ClusterInfo(
        dashboard_url=f"http://{url}" if url and not url.startswith("http") else url,
        started_here=started_here,
        nodes=live_nodes(ray.nodes()),
        token_file=TOKEN_FILE if TOKEN_FILE.exists() else None,
    )


def loopback_only() -> None:
    """Make the Ray that this process starts listen on 127.0.0.1 only.

    Ray's own servers (GCS, raylet, object manager, workers, dashboard agent) listen on every interface
    unless the node's address is 127.0.0.1, and Ray picks the machine's address for a local start. Ray
    uses the loopback address instead where clusters are not supported (its
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` switch, read once at import into ``ENABLE_RAY_CLUSTER``):
    a cluster started here serves this machine alone anyway (joining one is done with RAY_ADDRESS).
    Measured: with it, every socket of every Ray process listens on 127.0.0.1; without it, most on
    ``*``. ``tests/test_cli.py`` checks it on a real ``flowker serve``.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants  # the switch is read at import: set the value it read

    ray_constants.ENABLE_RAY_CLUSTER = False


async def check() -> None:
    """Readiness: the cluster's control store answers (raises when it does not)."""
    if not ray.is_initialized():
        raise ConnectionError("not connected to Ray")
    await asyncio.to_thread(ray.cluster_resources)


def fits(store_shared_across_hosts: bool) -> Callable[[], Awaitable[None]]:
    """Readiness: the cluster still fits the store (a node of another host may have joined since)."""

    async def check_fit() -> None:
        nodes = live_nodes(await asyncio.to_thread(ray.nodes))
        reason = refusal(nodes, store_shared_across_hosts)
        if reason is not None:
            raise RuntimeError(reason)

    return check_fit


def disconnect() -> None:
    """Leave the cluster; a cluster started here stops with it."""
    if ray.is_initialized():
        ray.shutdown()


def node_id() -> str | None:
    """The Ray node this process runs on (None when not connected)."""
    return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else None
