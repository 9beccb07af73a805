"""The audit actor (``audit``): the one writer of the hash chain for the whole cluster."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from flowker.actors.config import RuntimeConfig
from flowker.actors.faults import PausePoints
from flowker.actors.sequencer import Sequencer
from flowker.domain.audit import AuditEvent
from flowker.store.embedded import EmbeddedStore


class AuditActor:
    """Ray actor shell around :class:`Sequencer`; reloads the chain head from the store when it starts."""

    def __init__(self, config: RuntimeConfig) -> None:
        self._data_dir = Path(config.data_dir)
        self._pauses = PausePoints(config.pause_points, config.data_dir)
        self._sequencer: Sequencer | None = None
        self._opening = asyncio.Lock()

    async def append(self, events: Sequence[AuditEvent]) -> list[int]:
        """Append ``events`` to the chain; returns their sequence numbers once they are durable."""
        async with self._opening:
            if self._sequencer is None:
                store = await EmbeddedStore(self._data_dir).open()
                self._sequencer = Sequencer(store.audit, pauses=self._pauses)
        return await self._sequencer.append(events)

    async def pid(self) -> int:
        """This actor's process id (crash tests kill it)."""
        return os.getpid()
