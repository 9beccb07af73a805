"""Coalescing concurrent calls into one: what arrives while a call is in flight rides the next call.

Under load this turns many small remote calls (each costs a Ray hop) into few large ones, without
adding latency when idle: a lone item is sent at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from flowker.tunables import COALESCE_MAX_ITEMS

T = TypeVar("T")

log = logging.getLogger("flowker.coalescer")


class Coalescer(Generic[T]):
    """Sends items through ``send`` in order, batching those submitted while a send is under way."""

    def __init__(
        self, send: Callable[[list[T]], Awaitable[object]], max_posted: int | None = None, gap: float = 0.0
    ) -> None:
        """``max_posted``: items posted (not submitted) that may wait at once; a post beyond it is dropped
        (for items that are safe elsewhere until sent, as audit events are in the store's outbox).
        ``gap``: seconds to wait after each send before the next, so that what arrives meanwhile rides it
        (for sends that nobody waits for, where fewer calls matter more than their delay)."""
        self._send = send
        self._gap = gap
        # An entry without a future was posted: nobody waits for it.
        self._queue: deque[tuple[Sequence[T], asyncio.Future[None] | None]] = deque()
        self._sender: asyncio.Task[None] | None = None
        self._max_posted = max_posted
        self._posted = 0
        self._dropping = False

    async def submit(self, items: Sequence[T]) -> None:
        """Return once ``items`` were sent (raises what the send raised)."""
        if not items:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(items, done)
        await done

    def post(self, items: Sequence[T]) -> None:
        """Queue ``items`` and return at once, without waiting for the send (a failed send is logged).

        Needs a running event loop; the send starts when the caller next yields to it.
        """
        if not items:
            return
        if self._max_posted is not None and self._posted + len(items) > self._max_posted:
            if not self._dropping:  # once per overflow, not once per post
                log.warning("%d item(s) queued unsent: new posts are dropped until they drain", self._posted)
            self._dropping = True
            return
        self._posted += len(items)
        self._enqueue(items, None)

    async def flush(self, seconds: float) -> None:
        """Wait up to ``seconds`` for what is queued or in flight to be sent."""
        if self._sender is not None and not self._sender.done():
            await asyncio.wait([self._sender], timeout=seconds)

    def _enqueue(self, items: Sequence[T], done: asyncio.Future[None] | None) -> None:
        self._queue.append((items, done))
        if self._sender is None or self._sender.done():
            self._sender = asyncio.get_running_loop().create_task(self._send_all())

    async def _send_all(self) -> None:
        while self._queue:
            batch: list[tuple[Sequence[T], asyncio.Future[None] | None]] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0][0]) <= COALESCE_MAX_ITEMS):
                entry = self._queue.popleft()
                batch.append(entry)
                size += len(entry[0])
                if entry[1] is None:
                    self._posted -= len(entry[0])
            self._dropping = self._dropping and self._posted > (self._max_posted or 0) // 2
            try:
                await self._send([item for items, _ in batch for item in items])
            except Exception as exc:
                if any(done is None for _, done in batch):
                    log.warning("a posted batch was not sent (%s: %s)", type(exc).__name__, exc)
                for _, done in batch:
                    if done is not None and not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if done is not None and not done.done():
                    done.set_result(None)
            if self._gap:
                await asyncio.sleep(self._gap)
