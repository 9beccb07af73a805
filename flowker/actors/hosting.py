"""Hosting executions as asyncio tasks: the Ray-free core of a supervisor actor, and of a front door that
runs what it starts itself.

A host runs each execution it takes in a task of its own, keeps the lease of every run it holds, and
tells of every run that ended here in a bounded feed (:class:`~flowker.actors.ended_feed.EndedFeed`),
which ``Prefer: wait`` requests are woken by. Its reconcile loop (every third of the lease) renews the
leases, stops runs whose lease another host took, passes cancel requests on and, when it adopts (the
supervisors do, a front door does not), takes up the executions nobody runs.

What it needs from outside is injected: how to open the store, make a provider call, ask the audit
writer to drain the outbox (at most every :data:`AUDIT_NUDGE_GAP_SECONDS`, never waited for by a run),
and name the node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from flowker.actors.caller import CallRequest, CallResult
from flowker.actors.coalescer import Coalescer
from flowker.actors.ended_feed import EndedAnswer, EndedFeed
from flowker.actors.faults import NO_PAUSES, PausePoints
from flowker.actors.leases import LeaseKeeper
from flowker.actors.runner import ExecutionRunner
from flowker.domain.audit import AuditEvent
from flowker.domain.execution import Execution
from flowker.errors import StateChanged
from flowker.store.ports import Store
from flowker.telemetry import catalog
from flowker.telemetry.recorder import RECORDER
from flowker.tunables import AUDIT_MAX_POSTED, AUDIT_NUDGE_GAP_SECONDS, ENDED_POLL_SECONDS

log = logging.getLogger("flowker.supervisor")

Trace = dict[str, str] | None


class Host:
    """Runs executions, cancels them, keeps their leases and (when ``adopt``) adopts orphans."""

    def __init__(
        self,
        owner: str,
        lease_seconds: float,
        open_store: Callable[[], Awaitable[Store]],
        call: Callable[[CallRequest], Awaitable[CallResult]],
        drain_audit: Callable[[], Awaitable[object]],
        node_id: Callable[[], str],
        *,
        adopt: bool = True,
        pauses: PausePoints = NO_PAUSES,
    ) -> None:
        self.owner = owner
        self._lease_seconds = lease_seconds
        self._open_store = open_store
        self._store: Store | None = None
        self._opening = asyncio.Lock()
        self._call = call
        # The runs' audit events are in the store's outbox, committed with their steps: the audit writer
        # is only told to chain it (one drain per batch of steps, whatever their number of events), so
        # the events themselves never cross Ray.
        self._audit: Coalescer[int] = Coalescer(
            lambda _steps: drain_audit(), max_posted=AUDIT_MAX_POSTED, gap=AUDIT_NUDGE_GAP_SECONDS
        )
        self._node_id = node_id
        self._adopt = adopt
        self._pauses = pauses
        self._runs: dict[str, tuple[ExecutionRunner | None, asyncio.Task[object] | None]] = {}
        self.feed = EndedFeed()
        self._reconciler: asyncio.Task[None] | None = None

    def start_reconciling(self) -> None:
        """Start the reconcile loop (once); it never ends before :meth:`stop`."""
        if self._reconciler is None:
            self._reconciler = asyncio.get_running_loop().create_task(self._reconcile_forever())

    async def opened(self) -> Store:
        """The store, opened on first use."""
        async with self._opening:
            if self._store is None:
                self._store = await self._open_store()
        return self._store

    @property
    def running(self) -> int:
        """Executions hosted here now."""
        return len(self._runs)

    def host(self, execution_id: str, trace: Trace, claimed: Execution | None = None) -> bool:
        """Run the execution to its end (or resume it) in a task of its own, unless it is hosted already.

        ``claimed``: the execution as inserted with this host's lease (nothing to claim).
        """
        if execution_id in self._runs:
            return False
        self.start_reconciling()
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(
            self._drive(execution_id, trace, claimed)
        )
        # Registered before the task first runs: two arrivals for one execution (a hand-over and an
        # adoption together) never both drive it. Removed when the task ends, even cancelled before
        # its first step (its body, and any finally in it, then never runs).
        self._runs[execution_id] = (None, task)
        task.add_done_callback(lambda done: self._ended(execution_id, done))
        return True

    async def _drive(self, execution_id: str, trace: Trace, claimed: Execution | None) -> str | None:
        """Run the execution; its final status, or None when it did not end here."""
        try:
            runner = ExecutionRunner(
                await self.opened(),
                self._call,
                self._record,
                owner=self.owner,
                lease_seconds=self._lease_seconds,
                pauses=self._pauses,
            )
            self._runs[execution_id] = (runner, self._runs[execution_id][1])
            status = await runner.run(execution_id, trace, claimed)
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
            self.feed.add(execution_id, status)

    async def ended(self, after: int | None, incarnation: str | None) -> EndedAnswer:
        """The executions that ended here after the cursor ``(after, incarnation)``, or a gap (see
        :mod:`flowker.actors.ended_feed`); waits up to :data:`ENDED_POLL_SECONDS` for one when none has."""
        return await self.feed.wait(after, incarnation, ENDED_POLL_SECONDS)

    def cancel(self, execution_id: str) -> bool:
        """Ask a hosted execution to stop before its next step; ``False`` when it is not hosted here."""
        hosted = self._runs.get(execution_id)
        if hosted is not None and hosted[0] is not None:
            hosted[0].cancel()
        return hosted is not None

    def hosted(self) -> list[str]:
        """Ids of the executions running here."""
        return list(self._runs)

    def live(self) -> list[dict[str, object]]:
        """The executions running here now, each as :meth:`ExecutionRunner.describe` says, with this
        host's name and node (``GET /v1/runtime/executions``)."""
        node = self._node_id()
        found: list[dict[str, object]] = []
        for runner, _task in list(self._runs.values()):
            described = runner.describe() if runner is not None else None
            if described is not None:
                found.append({**described, "supervisor": self.owner, "nodeId": node})
        return found

    def count_live(self) -> None:
        """Set the live-executions gauge of this host."""
        RECORDER.set(catalog.LIVE_EXECUTIONS, self.owner, self._node_id(), value=len(self._runs))

    async def stop(self, seconds: float) -> int:
        """Wait up to ``seconds`` for the runs hosted here to end, then stop the rest (their leases
        lapse, and a supervisor adopts them: they go on from their last written step); how many were
        stopped."""
        tasks = [task for _runner, task in self._runs.values() if task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=seconds)
        left = [task for task in tasks if not task.done()]
        for task in left:
            task.cancel()
        if self._reconciler is not None:
            self._reconciler.cancel()
        await asyncio.gather(*left, *([self._reconciler] if self._reconciler else []), return_exceptions=True)
        return len(left)

    async def _reconcile_forever(self) -> None:
        keeper: LeaseKeeper | None = None
        while True:
            try:
                if keeper is None:
                    store = await self.opened()
                    keeper = LeaseKeeper(store.executions, self.owner, self._lease_seconds)
                await self._reconcile(keeper)
            except Exception:
                log.exception("reconcile round failed; trying again")
            await asyncio.sleep(self._lease_seconds / 3)

    async def _reconcile(self, keeper: LeaseKeeper) -> None:
        runs = dict(self._runs)
        leased = [i for i, (runner, _task) in runs.items() if runner is not None and runner.holds_lease]
        found = await keeper.reconcile(runs.keys(), leased, adopt=self._adopt)
        for execution_id in found.lost:
            runner, task = self._runs.get(execution_id, (None, None))
            # A run whose ending was written while the round was under way holds no lease any more: it
            # ended here, nobody took it.
            if task is not None and runner is not None and runner.holds_lease:
                log.warning("execution %s: lease lost to another supervisor; leaving it", execution_id)
                task.cancel()
        for execution_id in found.cancel:
            self.cancel(execution_id)
        for execution_id in found.adopt:
            self.host(execution_id, None)

    async def _record(self, events: Sequence[AuditEvent]) -> None:
        # Not waited for: a step's events were committed with it in the outbox, and every audit read
        # drains the outbox first. A run waiting for the chain would add a Ray round trip and the audit
        # actor's write to every step.
        if events:
            self._audit.post([len(events)])
