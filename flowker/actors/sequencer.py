"""The audit chain's single writer, Ray-free: numbers, hashes and stores events in group commits.

Whatever arrives while a batch is being written is written together in the next batch (one store
transaction), so load raises throughput instead of queueing transactions. Sequence numbers and the
previous hash are computed inside one task only, which keeps the chain linear even though callers'
requests arrive in any order.

Every batch also drains the store's outbox — the events committed with the changes they describe —
oldest first, so that the chain follows the order in which changes were committed, and an event whose
change was committed is chained even when the call that should have brought it here was lost.

Each batch also carries the Merkle tree nodes its events complete (:mod:`flowker.actors.audit_tree`),
stored in the same transaction: the writer keeps the tree's frontier, so an append reads no node.

Appending is idempotent by event id: an event already in the chain (a caller retrying after its
answer was lost with a crashed actor, an event that came both through a call and the outbox) keeps
its first place and is not written again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from flowker.actors.audit_tree import TreeWriter
from flowker.actors.faults import NO_PAUSES, PausePoints
from flowker.clock import Clock, iso, utc_now
from flowker.domain.audit import AuditEvent, seal
from flowker.errors import StateChanged
from flowker.store.ports import AuditLog
from flowker.telemetry import catalog
from flowker.telemetry.recorder import RECORDER
from flowker.tunables import AUDIT_MAX_ATTEMPTS, AUDIT_MAX_BATCH

log = logging.getLogger("flowker.audit")


@dataclass
class _Request:
    events: Sequence[AuditEvent]
    done: asyncio.Future[list[int]] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    #: Outbox events the batch that carried this request drained.
    drained: int = 0


class Sequencer:
    """Appends events to an :class:`AuditLog`, one batch at a time."""

    def __init__(self, audit_log: AuditLog, clock: Clock = utc_now, pauses: PausePoints = NO_PAUSES) -> None:
        self._log = audit_log
        self._clock = clock
        self._pauses = pauses
        self._queue: list[_Request] = []
        self._writer: asyncio.Task[None] | None = None
        self._head: tuple[int, str | None] | None = None
        self._tree = TreeWriter(audit_log)

    @property
    def chain_length(self) -> int | None:
        """The sequence number of the last event this writer chained or loaded; None before it knows."""
        return self._head[0] if self._head is not None else None

    async def append(self, events: Sequence[AuditEvent]) -> list[int]:
        """Chain and store ``events`` in order; return their sequence numbers once durable."""
        if not events:
            return []
        return await self._enqueue(events)

    async def drain(self) -> None:
        """Chain what waits in the outbox now: rounds until one finds less than a full batch (events
        staged while it drains are left to the next append or drain, so a busy writer cannot hold it)."""
        while True:
            request = _Request(())
            await self._submit(request)
            if request.drained < AUDIT_MAX_BATCH:
                return

    async def _enqueue(self, events: Sequence[AuditEvent]) -> list[int]:
        return await self._submit(_Request(events))

    async def _submit(self, request: _Request) -> list[int]:
        self._queue.append(request)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_all())
        return await request.done

    async def _write_all(self) -> None:
        while self._queue:
            batch: list[_Request] = []
            size = 0
            while self._queue and (not batch or size + len(self._queue[0].events) <= AUDIT_MAX_BATCH):
                request = self._queue.pop(0)
                batch.append(request)
                size += len(request.events)
            await self._write(batch)

    async def _write(self, batch: list[_Request]) -> None:
        for attempt in range(AUDIT_MAX_ATTEMPTS):
            try:
                if self._head is None or attempt:
                    # A restarted writer, or one that lost a race, continues from what is stored.
                    self._head = await self._log.head()
                    await self._tree.load(self._head[0])
                staged = await self._log.staged(AUDIT_MAX_BATCH)
                unstage = [event.event_id for event in staged]
                known = await self._log.sequences_of(
                    list({*unstage, *(event.event_id for request in batch for event in request.events)})
                )
                records, numbers = self._chain(staged, batch, known)
                if records or unstage:
                    batch_key = str(records[0]["sequence"]) if records else "outbox"
                    await self._pauses.reach("audit_before_write", batch_key)
                    grown, nodes = self._tree.extend(self._head[0], records)
                    began = time.perf_counter()
                    await self._log.append(records, unstage, nodes)
                    RECORDER.observe(catalog.AUDIT_APPEND_SECONDS, value=time.perf_counter() - began)
                    RECORDER.inc(catalog.AUDIT_EVENTS, by=len(records))
                    self._tree.adopt(grown)
                    await self._pauses.reach("audit_after_write", batch_key)
            except StateChanged:
                # Another writer appended first (only during a handover between two audit actors).
                log.warning("audit head moved under this writer; reloading it")
                await asyncio.sleep(random.uniform(0.001, 0.01) * min(attempt + 1, 10))
                continue
            except Exception as exc:
                self._head = None
                for request in batch:
                    if not request.done.done():
                        request.done.set_exception(exc)
                return
            if records:
                self._head = (records[-1]["sequence"], records[-1]["hash"])
            for request in batch:
                request.drained = len(staged)
            for request, sequences in zip(batch, numbers, strict=True):
                if not request.done.done():
                    request.done.set_result(sequences)
            return
        error = StateChanged("the audit log")
        for request in batch:
            if not request.done.done():
                request.done.set_exception(error)

    def _chain(
        self, staged: list[AuditEvent], batch: list[_Request], known: dict[str, int]
    ) -> tuple[list[dict[str, Any]], list[list[int]]]:
        """Seal the staged events, then the batch's, skipping those already placed."""
        assert self._head is not None
        sequence, previous = self._head
        timestamp = iso(self._clock())
        records: list[dict[str, Any]] = []
        placed = dict(known)
        for event in [*staged, *(event for request in batch for event in request.events)]:
            if event.event_id not in placed:
                sequence += 1
                record = seal(event.body(timestamp, sequence), previous)
                previous = record["hash"]
                records.append(record)
                placed[event.event_id] = sequence
        numbers = [[placed[event.event_id] for event in request.events] for request in batch]
        return records, numbers
