"""The audit actor (``audit``): the one writer of the hash chain for the whole cluster.

Besides the events callers hand it, it drains the store's outbox — every change's events, committed
with the change — at start and every ``OUTBOX_DRAIN_SECONDS``, so an event whose hand-over was lost
(a front door or supervisor that died, an audit actor that was restarting) reaches the chain all the same.

After each append and each round it also issues the log's signed checkpoint when one is due
(:mod:`flowker.actors.checkpointer`), with the signing key the front door published
(:mod:`flowker.actors.actor_secrets`).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import ray

from flowker.actors import actor_secrets
from flowker.actors.checkpoint_sink import CheckpointPoster
from flowker.actors.checkpointer import Checkpointer, CheckpointPolicy
from flowker.actors.config import RuntimeConfig
from flowker.actors.faults import PausePoints
from flowker.actors.sequencer import Sequencer
from flowker.actors.store_access import open_actor_store
from flowker.domain.audit import AuditEvent
from flowker.domain.signed_note import SignerKey
from flowker.store.ports import Store
from flowker.telemetry import catalog, logs
from flowker.telemetry.recorder import RECORDER, Snapshot
from flowker.tunables import OUTBOX_DRAIN_SECONDS

log = logging.getLogger("flowker.audit")


class AuditActor:
    """Ray actor shell around :class:`Sequencer`; reloads the chain head from the store when it starts."""

    def __init__(self, config: RuntimeConfig) -> None:
        logs.configure(config.log_format, node_id=ray.get_runtime_context().get_node_id(), role="audit")
        self._pauses = PausePoints(config.pause_points, config.data_dir)
        self._config = config
        self._store: Store | None = None
        self._sequencer: Sequencer | None = None
        self._checkpointer: Checkpointer | None = None
        self._checking: asyncio.Task[None] | None = None
        url = config.audit_checkpoint_url
        self._poster = CheckpointPoster(url) if url else None
        self._opening = asyncio.Lock()
        self._drainer = asyncio.get_event_loop().create_task(self._drain_forever())

    async def _opened(self) -> Sequencer:
        async with self._opening:
            if self._sequencer is None:
                store = await open_actor_store(self._config)
                self._store = store
                self._sequencer = Sequencer(store.audit, pauses=self._pauses)
        return self._sequencer

    async def append(self, events: Sequence[AuditEvent]) -> list[int]:
        """Append ``events`` to the chain; returns their sequence numbers once they are durable."""
        sequences = await (await self._opened()).append(events)
        self._check_soon()
        return sequences

    async def drain(self) -> None:
        """Chain what waits in the outbox now (tests call it instead of waiting for the next round)."""
        await (await self._opened()).drain()
        self._check_soon()

    async def checkpoint(self) -> None:
        """Issue a checkpoint now if one is due (tests call it instead of waiting for the next round)."""
        await self._opened()
        assert self._store is not None
        if self._checkpointer is None:
            # Read when first needed, not at start: a key not published yet stops checkpoints, not the chain.
            self._checkpointer = Checkpointer(
                self._store.audit,
                self._store.checkpoints,
                SignerKey.parse(actor_secrets.fetch(self._config, actor_secrets.SIGNING_KEY)),
                policy_of(self._config),
                post=self._poster,
            )
        await self._checkpointer.check()

    def _check_soon(self) -> None:
        # In the background, one at a time: an append's answer does not wait for a signature.
        if self._checking is None or self._checking.done():
            self._checking = asyncio.get_running_loop().create_task(self._check())

    async def _check(self) -> None:
        try:
            await self.checkpoint()
        except Exception:
            log.exception("issuing an audit checkpoint failed; trying again with the next append or round")

    async def _drain_forever(self) -> None:
        while True:
            try:
                await self.drain()
            except Exception:
                log.exception(
                    "draining the audit outbox failed; trying again in %.1f s", OUTBOX_DRAIN_SECONDS
                )
            await asyncio.sleep(OUTBOX_DRAIN_SECONDS)

    async def metrics(self) -> Snapshot:
        """What this process recorded, with the chain's length now (``GET /metrics``)."""
        length = (await self._opened()).chain_length
        if length is not None:
            RECORDER.set(catalog.AUDIT_CHAIN_LENGTH, value=length)
        return RECORDER.snapshot("audit")

    def __repr__(self) -> str:
        # Ray takes an actor's repr once, when it starts (dashboard, log prefix).
        return f"AuditActor({self._config.name('audit')}, the audit chain's one writer)"

    async def pid(self) -> int:
        """This actor's process id (crash tests kill it)."""
        return os.getpid()


def policy_of(config: RuntimeConfig) -> CheckpointPolicy:
    """The checkpoint policy ``config`` sets."""
    sink = Path(config.audit_checkpoint_file) if config.audit_checkpoint_file else None
    return CheckpointPolicy(
        config.audit_checkpoint_events, config.audit_checkpoint_seconds, sink, config.audit_checkpoint_url
    )
