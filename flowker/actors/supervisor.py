"""Supervisor actors (``supervisor-<n>``): each hosts many executions as asyncio tasks.

An execution is not an actor of its own (an actor is a process: ~0.4 s and ~48 MiB each), nor a Ray
task: it is an asyncio task here, routed to a supervisor by a hash of its id and handed over in batches
(``host``: one Ray call for all the starts a front door made meanwhile). Ray keeps accounting per task
name for as long as it runs, so a Ray task named after each execution grew every process for good; a
live execution is found by its id in ``GET /v1/runtime/executions`` (``flowker ps``, the console), which
names the supervisor and node hosting it. What ended here is kept in a bounded feed (``ended``) that the
front doors long-poll to answer ``Prefer: wait``.

A supervisor holds a lease on each execution it runs and renews it; a reconcile loop that never dies
also adopts executions nobody runs — left pending by a front door that died, or running under a
lease that expired with its supervisor — and resumes them from their last persisted step. A restarted
supervisor keeps its name, so it takes its own executions back at once.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence

import ray
from ray.actor import ActorHandle

from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.config import RuntimeConfig
from flowker.actors.ended_feed import EndedAnswer
from flowker.actors.executor_handle import ExecutorHandles
from flowker.actors.faults import PausePoints
from flowker.actors.hosting import Host
from flowker.actors.store_access import open_actor_store
from flowker.telemetry import catalog, logs, tracing
from flowker.telemetry.recorder import RECORDER, Snapshot


class SupervisorActor:
    """Ray actor shell over :class:`~flowker.actors.hosting.Host`: runs executions, cancels them, keeps
    their leases, adopts orphans."""

    def __init__(self, config: RuntimeConfig, index: int, audit: ActorHandle) -> None:
        """``audit`` is the handle of the audit actor, which the events of every hosted run go to."""
        self._config = config
        tracing.setup(config.otel_enabled, config.otel_endpoint, config.otel_service_name, "supervisor")
        logs.configure(config.log_format, node_id=node_id(), role="supervisor")
        self._owner = config.name(f"supervisor-{index}")
        # Direct calls read configurations from this supervisor's own store.
        self._executors = ExecutorHandles(config, open_store=lambda: self._host_core.opened())
        self._host_core = Host(
            self._owner,
            config.lease_seconds,
            lambda: open_actor_store(config),
            self._call,
            audit.drain.remote,
            node_id,
            pauses=PausePoints(config.pause_points, config.data_dir),
        )
        # At once, not at the first hand-over: a restarted supervisor takes its own executions back.
        asyncio.get_event_loop().call_soon(self._host_core.start_reconciling)

    async def host(self, batch: Sequence[tuple[str, dict[str, str] | None]]) -> int:
        """Take up a batch of executions from a front door, each with the W3C context of the request that
        started it; returns at once (how many were not already hosted), not when they end.

        One Ray call per batch: an execution is an asyncio task here, not a Ray task of its own (Ray
        keeps accounting per task name for good, and a task per execution cost a Ray call, an object
        reference and a watcher in the front door per run).
        """
        RECORDER.inc(catalog.HOST_BATCHES, self._owner)
        RECORDER.inc(catalog.HOST_STARTS, self._owner, by=len(batch))
        return sum(self._host_core.host(execution_id, trace) for execution_id, trace in batch)

    async def ended(self, after: int | None, incarnation: str | None) -> EndedAnswer:
        """The executions that ended here after the cursor (see :meth:`Host.ended`)."""
        return await self._host_core.ended(after, incarnation)

    async def cancel(self, execution_id: str) -> bool:
        """Ask a hosted execution to stop before its next step; ``False`` when it is not hosted here."""
        return self._host_core.cancel(execution_id)

    async def hosted(self) -> list[str]:
        """Ids of the executions running here."""
        return self._host_core.hosted()

    async def live(self) -> list[dict[str, object]]:
        """The executions running here now (``GET /v1/runtime/executions``)."""
        return self._host_core.live()

    async def metrics(self) -> Snapshot:
        """What this process recorded, with the executions it hosts now (``GET /metrics``)."""
        self._host_core.count_live()
        return RECORDER.snapshot("supervisor")

    def __repr__(self) -> str:
        # Ray takes an actor's repr once, when it starts, for the dashboard and the log prefix: what the
        # actor is, not what it holds now (that is GET /v1/runtime/executions and /metrics).
        return f"SupervisorActor({self._owner}, node {node_id()[:12]})"

    async def pid(self) -> int:
        """This actor's process id (crash tests kill it)."""
        return os.getpid()

    async def _call(self, request: CallRequest) -> CallResult:
        return await self._executors.call(request)


def node_id() -> str:
    """The Ray node this process runs on."""
    return str(ray.get_runtime_context().get_node_id())
