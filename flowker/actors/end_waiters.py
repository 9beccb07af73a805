"""The front door's ``Prefer: wait`` waiters, told of the ends by the supervisors' feeds.

Each waiting request holds one future, filed under its execution id; one poller per supervisor
long-polls that supervisor's feed of endings (:mod:`flowker.actors.ended_feed`) while anyone waits,
and resolves the waiters of every id it is told of: one Ray call per batch of endings, none per
execution, whichever front door or supervisor started the run (a replay, an adopted run). When a
supervisor's feed has a gap (it restarted, or the cursor fell out of its window) or the supervisor
does not answer, every waiter is resolved: each then reads the store once and waits again if its
execution still runs. Nothing stays behind a waiter that was told or timed out. Ray-free: each feed
is a function that asks one supervisor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from flowker.actors.ended_feed import EndedAnswer
from flowker.tunables import ENDED_POLL_SECONDS, ENDED_RETRY_SECONDS

log = logging.getLogger("flowker.waiters")

#: Asks one supervisor's feed for the endings after a cursor ``(after, incarnation)``.
Ask = Callable[[int | None, str | None], Awaitable[EndedAnswer]]


@dataclass
class _Cursor:
    """Where the poller of one supervisor's feed is (None: not known yet, the first answer is a gap)."""

    after: int | None = None
    incarnation: str | None = None
    task: asyncio.Task[None] | None = None


class EndWaiters:
    """The waiters of one front door and its pollers of the supervisors' feeds."""

    def __init__(
        self,
        feeds: Callable[[], Sequence[Ask]],
        *,
        answer_seconds: float = 2 * ENDED_POLL_SECONDS,
        retry_seconds: float = ENDED_RETRY_SECONDS,
    ) -> None:
        """``feeds``: the supervisors' feeds, asked when the first waiter comes (the pool is made late);
        ``answer_seconds``: how long a long poll may take before the supervisor counts as not answering."""
        self._feeds = feeds
        self._answer_seconds = answer_seconds
        self._retry_seconds = retry_seconds
        self._waiters: dict[str, list[asyncio.Future[None]]] = {}
        self._cursors: list[_Cursor] = []

    @property
    def waiting(self) -> int:
        """Executions waited for now."""
        return len(self._waiters)

    @property
    def polling(self) -> int:
        """Pollers running now."""
        return sum(1 for cursor in self._cursors if cursor.task is not None and not cursor.task.done())

    async def wait(self, execution_id: str, seconds: float) -> None:
        """Return when a supervisor says ``execution_id`` ended (or that the store is worth a look), or
        after ``seconds``."""
        told: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(execution_id, []).append(told)
        try:
            self._poll()
            await asyncio.wait([told], timeout=seconds)
        finally:
            self._forget(execution_id, told)

    def _forget(self, execution_id: str, told: asyncio.Future[None]) -> None:
        futures = self._waiters.get(execution_id)
        if futures is not None:
            with contextlib.suppress(ValueError):
                futures.remove(told)
            if not futures:
                del self._waiters[execution_id]

    def _poll(self) -> None:
        feeds = self._feeds()
        while len(self._cursors) < len(feeds):
            self._cursors.append(_Cursor())
        loop = asyncio.get_running_loop()
        for cursor, ask in zip(self._cursors, feeds, strict=False):
            if cursor.task is None or cursor.task.done():
                cursor.task = loop.create_task(self._follow(cursor, ask))

    async def _follow(self, cursor: _Cursor, ask: Ask) -> None:
        # Runs while anyone waits; stops after the long poll under way when the last waiter leaves.
        while self._waiters:
            try:
                answer = await asyncio.wait_for(ask(cursor.after, cursor.incarnation), self._answer_seconds)
            except Exception as exc:
                log.info("a supervisor's feed of endings did not answer (%s)", type(exc).__name__)
                if cursor.incarnation is not None:
                    # Once per outage: a run it hosted may have ended unseen, or moved elsewhere.
                    self._tell_all()
                cursor.after = cursor.incarnation = None
                await asyncio.sleep(self._retry_seconds)
                continue
            cursor.after, cursor.incarnation = answer.cursor, answer.incarnation
            if answer.gap:
                self._tell_all()
            for ending in answer.endings:
                self._tell(ending.execution_id)

    def _tell(self, execution_id: str) -> None:
        for told in self._waiters.pop(execution_id, ()):
            if not told.done():
                told.set_result(None)

    def _tell_all(self) -> None:
        for execution_id in list(self._waiters):
            self._tell(execution_id)

    async def close(self) -> None:
        """Resolve every waiter and stop the pollers."""
        self._tell_all()
        tasks = [cursor.task for cursor in self._cursors if cursor.task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
