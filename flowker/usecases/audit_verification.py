"""Verifying the stored audit log and exporting it, both streamed from the store in bounded batches.

Verification (``GET /v1/audit-events/{id}/verify``) reads the log from its first event up to the one
asked for, ``AUDIT_VERIFY_BATCH`` records at a time with the store's searched values, and feeds them to
a :class:`~flowker.domain.audit_verify.LogVerifier` on the event loop, ``AUDIT_VERIFY_SLICE`` events at
a time, yielding between slices, so that other requests wait at most one slice (well under a
millisecond). ``bench/audit_verify_latency.py`` measured the choices on this (shared, 2-core) machine
over 100,000 events: other requests' median latency stayed that of an idle service (about 0.1 ms) in
every case; their p99 was 3-7 ms with reads of 100 hashed on the loop (idle: 1-4 ms), about 5 ms but
with peaks near 200 ms and a verification three times slower with each batch hashed on a worker thread
(``asyncio.to_thread``: the thread keeps the GIL for whole switch intervals), and 15-35 ms with reads
of 1000.
The stored checkpoints up to that event are read smallest first, a page at a time, and fed ahead of
the events they cover; their signatures are checked with the service's verifier key. The newest
checkpoint is also held to the stored log's length, so a log whose newest events were deleted reports
``truncated`` whichever event is verified. Memory: one batch, one page of checkpoints, the verifier's
``O(log n)`` state.

The export (``GET /v1/audit/export``, :mod:`flowker.domain.audit_export`) writes the events up to the
log's size when it starts, each checkpoint after the event of its tree size, and those beyond the last
event at the end; chunks of ``AUDIT_EXPORT_BATCH`` events each.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

from flowker.clock import Clock, iso, utc_now
from flowker.domain import audit_export
from flowker.domain.audit_verify import LogVerification, LogVerifier
from flowker.domain.signed_note import VerifierKey
from flowker.store.ports import CheckpointLog, Store, StoredCheckpoint, StoredRecord
from flowker.tunables import AUDIT_EXPORT_BATCH, AUDIT_VERIFY_BATCH, AUDIT_VERIFY_SLICE, CHECKPOINT_PAGE
from flowker.usecases.audit_checkpoints import render


class _Checkpoints:
    """The stored checkpoints, smallest tree size first, a page at a time."""

    def __init__(self, checkpoints: CheckpointLog) -> None:
        self._log = checkpoints
        self._page: list[StoredCheckpoint] = []
        self._above = 0
        self._done = False

    async def upto(self, size: int) -> list[StoredCheckpoint]:
        """The next checkpoints of a tree size at most ``size`` (each once)."""
        found: list[StoredCheckpoint] = []
        while True:
            while self._page and self._page[0].tree_size <= size:
                found.append(self._page.pop(0))
            if self._page or self._done:
                return found
            self._page = await self._log.oldest(CHECKPOINT_PAGE, self._above)
            if not self._page:
                self._done = True
            else:
                self._above = self._page[-1].tree_size


def _expect(verifier: LogVerifier, checkpoints: Iterable[StoredCheckpoint]) -> None:
    for checkpoint in checkpoints:
        verifier.expect(checkpoint.note, "stored checkpoint", (checkpoint.tree_size, checkpoint.root_hash))


def feed(verifier: LogVerifier, rows: list[StoredRecord]) -> bool:
    return verifier.feed([row.record for row in rows], [row.searched for row in rows])


async def in_slices(verifier: LogVerifier, rows: list[StoredRecord]) -> bool:
    """Hash ``rows`` on the event loop, ``AUDIT_VERIFY_SLICE`` at a time, letting other tasks run between
    slices (each well under a millisecond)."""
    for start in range(0, len(rows), AUDIT_VERIFY_SLICE):
        if not feed(verifier, rows[start : start + AUDIT_VERIFY_SLICE]):
            return False
        await asyncio.sleep(0)
    return True


async def on_thread(verifier: LogVerifier, rows: list[StoredRecord]) -> bool:
    """Hash ``rows`` on a worker thread (the bench's comparison: the GIL makes the loop wait longer)."""
    return await asyncio.to_thread(feed, verifier, rows)


async def verify_stored(
    store: Store,
    verifier_key: VerifierKey,
    through: int,
    *,
    batch: int = AUDIT_VERIFY_BATCH,
    offload: Callable[[LogVerifier, list[StoredRecord]], Awaitable[bool]] = in_slices,
) -> LogVerification:
    """Verify the stored log's events up to sequence ``through`` and its checkpoints (see the module)."""
    verifier = LogVerifier(verifier_key)
    checkpoints = _Checkpoints(store.checkpoints)
    after = 0
    while after < through:
        rows = [
            r for r in await store.audit.records(after, min(batch, through - after)) if r.sequence <= through
        ]
        if not rows:
            break
        _expect(verifier, await checkpoints.upto(min(rows[-1].sequence, verifier.size + len(rows))))
        if not await offload(verifier, rows):
            break
        after = rows[-1].sequence
    if verifier.problem is None:
        _expect(verifier, await checkpoints.upto(max(through, verifier.size)))
        newest = await store.checkpoints.latest()
        if newest is not None and newest.tree_size > through:
            _expect(verifier, [newest])
    head, _ = await store.audit.head()
    return verifier.finish(log_end=head)


async def export_chunks(store: Store, origin: str, clock: Clock = utc_now) -> AsyncIterator[bytes]:
    """The export's lines (see :mod:`flowker.domain.audit_export`), one chunk per batch of events."""
    head, _ = await store.audit.head()
    latest = await store.checkpoints.latest()
    end = max(head, latest.tree_size if latest is not None else 0)
    checkpoints = _Checkpoints(store.checkpoints)
    events = written_checkpoints = 0
    yield audit_export.header_line(origin, head, iso(clock()))
    after = 0
    pending: list[StoredCheckpoint] = []
    while after < head:
        rows = [
            r
            for r in await store.audit.records(after, min(AUDIT_EXPORT_BATCH, head - after))
            if r.sequence <= head
        ]
        if not rows:
            break
        pending += await checkpoints.upto(rows[-1].sequence)
        lines: list[bytes] = []
        for row in rows:
            while pending and pending[0].tree_size < row.sequence:
                lines.append(audit_export.checkpoint_line(render(pending.pop(0))))
                written_checkpoints += 1
            lines.append(audit_export.event_line(row.record))
            events += 1
        yield b"".join(lines)
        after = rows[-1].sequence
    pending += await checkpoints.upto(end)
    tail = [audit_export.checkpoint_line(render(c)) for c in pending]
    written_checkpoints += len(tail)
    yield b"".join([*tail, audit_export.end_line(events, written_checkpoints)])
