"""Supervisor actors (``supervisor-<n>``): each hosts many executions as asyncio tasks.

An execution is not an actor of its own (an actor is a process: ~0.4 s and ~48 MiB each); it is a
task here, routed to a supervisor by a hash of its id, and visible in the Ray dashboard as the
running method call named ``execution:<id>``.

A supervisor holds a lease on each execution it runs and renews it; a reconcile loop that never dies
also adopts executions nobody runs — left pending by a front door that died, or running under a
lease that expired with its supervisor — and resumes them from their last persisted step. A restarted
supervisor keeps its name, so it takes its own executions back at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence

import ray
from ray.actor import ActorHandle

from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.coalescer import Coalescer
from flowker.actors.config import RuntimeConfig
from flowker.actors.executor_handle import ExecutorHandles
from flowker.actors.faults import PausePoints
from flowker.actors.leases import LeaseKeeper
from flowker.actors.runner import ExecutionRunner
from flowker.actors.store_access import open_actor_store
from flowker.domain.audit import AuditEvent
from flowker.errors import StateChanged
from flowker.store.ports import Store
from flowker.telemetry import catalog, logs, tracing
from flowker.telemetry.recorder import RECORDER, Snapshot

log = logging.getLogger("flowker.supervisor")


class SupervisorActor:
    """Ray actor shell: runs executions, cancels them, keeps their leases, adopts orphans."""

    def __init__(self, config: RuntimeConfig, index: int, audit: ActorHandle) -> None:
        """``audit`` is the handle of the audit actor, which the events of every hosted run go to."""
        self._config = config
        tracing.setup(config.otel_enabled, config.otel_endpoint, config.otel_service_name, "supervisor")
        logs.configure(config.log_format, node_id=_node_id(), role="supervisor")
        self._owner = config.name(f"supervisor-{index}")
        self._store: Store | None = None
        self._opening = asyncio.Lock()
        self._runs: dict[str, tuple[ExecutionRunner | None, asyncio.Task[object] | None]] = {}
        self._executors = ExecutorHandles(config)
        # Audit events of all the executions hosted here travel together: one Ray call per batch.
        self._audit: Coalescer[AuditEvent] = Coalescer(lambda events: audit.append.remote(events))
        self._pauses = PausePoints(config.pause_points, config.data_dir)
        self._reconciler = asyncio.get_event_loop().create_task(self._reconcile_forever())

    async def _opened(self) -> Store:
        async with self._opening:
            if self._store is None:
                self._store = await open_actor_store(self._config)
        return self._store

    async def run(self, execution_id: str, trace: dict[str, str] | None = None) -> str | None:
        """Run the execution to its end (or resume it); return its final status.

        ``trace``: the W3C context of the request that started it (none for an adopted run).
        """
        if execution_id in self._runs:
            return None
        # Registered before the first await: two calls for one execution (a hand-over and an adoption
        # arriving together) never both drive it.
        self._runs[execution_id] = (None, asyncio.current_task())
        try:
            runner = ExecutionRunner(
                await self._opened(),
                self._call,
                self._record,
                owner=self._owner,
                lease_seconds=self._config.lease_seconds,
                pauses=self._pauses,
            )
            self._runs[execution_id] = (runner, asyncio.current_task())
            status = await runner.run(execution_id, trace)
        except (StateChanged, asyncio.CancelledError):
            # Someone else wrote the execution (a supervisor that adopted it after this one lost its
            # lease): it is not ours any more.
            log.info("execution %s changed under its runner; leaving it", execution_id)
            return None
        except Exception:
            # The runner ends every run it can; this is a run whose ending could not even be written
            # (the store is failing). It is taken up again once the store answers, as after a crash,
            # at most MAX_RUN_ATTEMPTS times.
            log.exception("execution %s: its ending could not be written", execution_id)
            return None
        finally:
            del self._runs[execution_id]
        return status.value if status else None

    async def cancel(self, execution_id: str) -> bool:
        """Ask a hosted execution to stop before its next step; ``False`` when it is not hosted here."""
        hosted = self._runs.get(execution_id)
        if hosted is not None and hosted[0] is not None:
            hosted[0].cancel()
        return hosted is not None

    async def hosted(self) -> list[str]:
        """Ids of the executions running here."""
        return list(self._runs)

    async def live(self) -> list[dict[str, object]]:
        """The executions running here now, each as :meth:`ExecutionRunner.describe` says, with this
        supervisor's name and node (``GET /v1/runtime/executions``)."""
        node = _node_id()
        found: list[dict[str, object]] = []
        for runner, _task in list(self._runs.values()):
            described = runner.describe() if runner is not None else None
            if described is not None:
                found.append({**described, "supervisor": self._owner, "nodeId": node})
        return found

    async def metrics(self) -> Snapshot:
        """What this process recorded, with the executions it hosts now (``GET /metrics``)."""
        RECORDER.set(catalog.LIVE_EXECUTIONS, self._owner, _node_id(), value=len(self._runs))
        return RECORDER.snapshot("supervisor")

    def __repr__(self) -> str:
        # Ray takes an actor's repr once, when it starts, for the dashboard and the log prefix: what the
        # actor is, not what it holds now (that is GET /v1/runtime/executions, /metrics, and the RUNNING
        # tasks named execution:<id>).
        return f"SupervisorActor({self._owner}, node {_node_id()[:12]})"

    async def pid(self) -> int:
        """This actor's process id (crash tests kill it)."""
        return os.getpid()

    async def _reconcile_forever(self) -> None:
        keeper: LeaseKeeper | None = None
        while True:
            try:
                if keeper is None:
                    store = await self._opened()
                    keeper = LeaseKeeper(store.executions, self._owner, self._config.lease_seconds)
                await self._reconcile(keeper)
            except Exception:
                log.exception("reconcile round failed; trying again")
            await asyncio.sleep(self._config.lease_seconds / 3)

    async def _reconcile(self, keeper: LeaseKeeper) -> None:
        runs = dict(self._runs)
        leased = [i for i, (runner, _task) in runs.items() if runner is not None and runner.holds_lease]
        found = await keeper.reconcile(runs.keys(), leased)
        for execution_id in found.lost:
            _runner, task = self._runs.get(execution_id, (None, None))
            if task is not None:
                log.warning("execution %s: lease lost to another supervisor; leaving it", execution_id)
                task.cancel()
        for execution_id in found.cancel:
            await self.cancel(execution_id)
        me = ray.get_runtime_context().current_actor
        for execution_id in found.adopt:
            if execution_id not in self._runs:
                me.run.options(name=f"execution:{execution_id}").remote(execution_id)

    async def _call(self, request: CallRequest) -> CallResult:
        return await self._executors.call(request)

    async def _record(self, events: Sequence[AuditEvent]) -> None:
        await self._audit.submit(events)


def _node_id() -> str:
    return str(ray.get_runtime_context().get_node_id())
