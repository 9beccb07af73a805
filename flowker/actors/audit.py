"""The audit actor (``audit``): the one writer of the hash chain for the whole cluster.

Besides the events callers hand it, it drains the store's outbox — every change's events, committed
with the change — at start and every ``OUTBOX_DRAIN_SECONDS``, so an event whose hand-over was lost
(a front door or supervisor that died, an audit actor that was restarting) reaches the chain all the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path

from flowker.actors.config import RuntimeConfig
from flowker.actors.faults import PausePoints
from flowker.actors.sequencer import Sequencer
from flowker.domain.audit import AuditEvent
from flowker.store.embedded import EmbeddedStore
from flowker.tunables import OUTBOX_DRAIN_SECONDS

log = logging.getLogger("flowker.audit")


class AuditActor:
    """Ray actor shell around :class:`Sequencer`; reloads the chain head from the store when it starts."""

    def __init__(self, config: RuntimeConfig) -> None:
        self._data_dir = Path(config.data_dir)
        self._pauses = PausePoints(config.pause_points, config.data_dir)
        self._sequencer: Sequencer | None = None
        self._opening = asyncio.Lock()
        self._drainer = asyncio.get_event_loop().create_task(self._drain_forever())

    async def _opened(self) -> Sequencer:
        async with self._opening:
            if self._sequencer is None:
                store = await EmbeddedStore(self._data_dir).open()
                self._sequencer = Sequencer(store.audit, pauses=self._pauses)
        return self._sequencer

    async def append(self, events: Sequence[AuditEvent]) -> list[int]:
        """Append ``events`` to the chain; returns their sequence numbers once they are durable."""
        return await (await self._opened()).append(events)

    async def drain(self) -> None:
        """Chain what waits in the outbox now (tests call it instead of waiting for the next round)."""
        await (await self._opened()).drain()

    async def _drain_forever(self) -> None:
        while True:
            try:
                await self.drain()
            except Exception:
                log.exception(
                    "draining the audit outbox failed; trying again in %.1f s", OUTBOX_DRAIN_SECONDS
                )
            await asyncio.sleep(OUTBOX_DRAIN_SECONDS)

    async def pid(self) -> int:
        """This actor's process id (crash tests kill it)."""
        return os.getpid()
