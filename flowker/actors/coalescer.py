"""Coalescing concurrent calls into one: what arrives while a call is in flight rides the next call.

Under load this turns many small remote calls (each costs a Ray hop) into few large ones, without
adding latency when idle: a lone item is sent at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from flowker.tunables import COALESCE_MAX_ITEMS

T = TypeVar("T")


class Coalescer(Generic[T]):
    """Sends items through ``send`` in order, batching those submitted while a send is under way."""

    def __init__(self, send: Callable[[list[T]], Awaitable[object]]) -> None:
        self._send = send
        self._queue: list[tuple[Sequence[T], asyncio.Future[None]]] = []
        self._sender: asyncio.Task[None] | None = None

    async def submit(self, items: Sequence[T]) -> None:
        """Return once ``items`` were sent (raises what the send raised)."""
        if not items:
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.append((items, done))
        if self._sender is None or self._sender.done():
            self._sender = loop.create_task(self._send_all())
        await done

    async def _send_all(self) -> None:
        while self._queue:
            batch: list[tuple[Sequence[T], asyncio.Future[None]]] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0][0]) <= COALESCE_MAX_ITEMS):
                entry = self._queue.pop(0)
                batch.append(entry)
                size += len(entry[0])
            try:
                await self._send([item for items, _ in batch for item in items])
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in batch:
                if not done.done():
                    done.set_result(None)
