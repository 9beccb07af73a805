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
import logging
import os
from collections.abc import Sequence

import ray
from ray.actor import ActorHandle

from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.coalescer import Coalescer
from flowker.actors.config import RuntimeConfig
from flowker.actors.ended_feed import EndedAnswer, EndedFeed
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
from flowker.tunables import AUDIT_MAX_POSTED, ENDED_POLL_SECONDS

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
        # Direct calls read configurations from this supervisor's own store.
        self._executors = ExecutorHandles(config, open_store=self._opened)
        # The runs' audit events are in the store's outbox, committed with their steps: the audit actor
        # is only told to chain it (one drain per batch of steps, whatever their number of events), so
        # the events themselves never cross Ray.
        self._audit: Coalescer[int] = Coalescer(
            lambda _steps: audit.drain.remote(), max_posted=AUDIT_MAX_POSTED
        )
        self._pauses = PausePoints(config.pause_points, config.data_dir)
        self._feed = EndedFeed()
        self._reconciler = asyncio.get_event_loop().create_task(self._reconcile_forever())

    async def _opened(self) -> Store:
        async with self._opening:
            if self._store is None:
                self._store = await open_actor_store(self._config)
        return self._store

    async def host(self, batch: Sequence[tuple[str, dict[str, str] | None]]) -> int:
        """Take up a batch of executions from a front door, each with the W3C context of the request that
        started it; returns at once (how many were not already hosted), not when they end.

        One Ray call per batch: an execution is an asyncio task here, not a Ray task of its own (Ray
        keeps accounting per task name for good, and a task per execution cost a Ray call, an object
        reference and a watcher in the front door per run).
        """
        RECORDER.inc(catalog.HOST_BATCHES, self._owner)
        RECORDER.inc(catalog.HOST_STARTS, self._owner, by=len(batch))
        return sum(self._host(execution_id, trace) for execution_id, trace in batch)

    def _host(self, execution_id: str, trace: dict[str, str] | None) -> bool:
        """Run the execution to its end (or resume it) in a task of its own, unless it is hosted already."""
        if execution_id in self._runs:
            return False
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(self._drive(execution_id, trace))
        # Registered before the task first runs: two arrivals for one execution (a hand-over and an
        # adoption together) never both drive it. Removed when the task ends, even cancelled before
        # its first step (its body, and any finally in it, then never runs).
        self._runs[execution_id] = (None, task)
        task.add_done_callback(lambda done: self._ended(execution_id, done))
        return True

    async def _drive(self, execution_id: str, trace: dict[str, str] | None) -> str | None:
        """Run the execution; its final status, or None when it did not end here."""
        try:
            runner = ExecutionRunner(
                await self._opened(),
                self._call,
                self._record,
                owner=self._owner,
                lease_seconds=self._config.lease_seconds,
                pauses=self._pauses,
            )
            self._runs[execution_id] = (runner, self._runs[execution_id][1])
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
        return status.value if status else None

    def _ended(self, execution_id: str, task: asyncio.Task[object]) -> None:
        hosted = self._runs.get(execution_id)
        if hosted is not None and hosted[1] is task:
            del self._runs[execution_id]
        status = None if task.cancelled() or task.exception() is not None else task.result()
        if isinstance(status, str):
            # After the entry is gone: a front door told of the end and asking live() sees it ended.
            self._feed.add(execution_id, status)

    async def ended(self, after: int | None, incarnation: str | None) -> EndedAnswer:
        """The executions that ended here after the cursor ``(after, incarnation)``, or a gap (see
        :mod:`flowker.actors.ended_feed`); waits up to :data:`ENDED_POLL_SECONDS` for one when none has."""
        return await self._feed.wait(after, incarnation, ENDED_POLL_SECONDS)

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
        # actor is, not what it holds now (that is GET /v1/runtime/executions and /metrics).
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
            runner, task = self._runs.get(execution_id, (None, None))
            # A run whose ending was written while the round was under way holds no lease any more: it
            # ended here, nobody took it.
            if task is not None and runner is not None and runner.holds_lease:
                log.warning("execution %s: lease lost to another supervisor; leaving it", execution_id)
                task.cancel()
        for execution_id in found.cancel:
            await self.cancel(execution_id)
        for execution_id in found.adopt:
            self._host(execution_id, None)

    async def _call(self, request: CallRequest) -> CallResult:
        return await self._executors.call(request)

    async def _record(self, events: Sequence[AuditEvent]) -> None:
        # Not waited for: a step's events were committed with it in the outbox, and every audit read
        # drains the outbox first. A run waiting for the chain would add a Ray round trip and the audit
        # actor's write to every step.
        if events:
            self._audit.post([len(events)])


def _node_id() -> str:
    return str(ray.get_runtime_context().get_node_id())
