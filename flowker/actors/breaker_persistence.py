"""Writing a breaker's transitions to the store, one write at a time, never in a call's way.

The executor actor hands every transition to :meth:`BreakerPersister.save`, which returns at once: one
task writes, in order, and when several transitions arrive during a write only the last one is written
next (the store keeps one state per configuration; the latest wins). A failed write is logged and
dropped: the breaker keeps working from memory, and the next transition writes again.
"""

from __future__ import annotations

import asyncio
import logging

from flowker.domain.breaker_state import BreakerRecord
from flowker.store.ports import BreakerStateRepository

log = logging.getLogger("flowker.executor")


class BreakerPersister:
    """The writer of one configuration's breaker state."""

    def __init__(self, config_id: str, repository: BreakerStateRepository | None = None) -> None:
        self._id = config_id
        self._repository = repository
        self._pending: BreakerRecord | None = None
        self._writer: asyncio.Task[None] | None = None

    def attach(self, repository: BreakerStateRepository) -> None:
        """Write to ``repository`` from now on (the store opens after the breaker exists)."""
        self._repository = repository
        self._kick()

    def save(self, record: BreakerRecord) -> None:
        """Have ``record`` written soon; returns at once."""
        self._pending = record
        self._kick()

    async def flush(self) -> None:
        """Return once what was saved so far is written (or its write failed)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    def _kick(self) -> None:
        if self._repository is None or self._pending is None:
            return
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while self._pending is not None and self._repository is not None:
            record, self._pending = self._pending, None
            try:
                await self._repository.put(self._id, record)
            except Exception as exc:
                log.warning(
                    "executor %s: breaker state %s not persisted (%s)",
                    self._id,
                    record.state,
                    type(exc).__name__,
                )
