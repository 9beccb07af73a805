"""Signed checkpoints of the audit log, issued by its writer, Ray-free (the clock is injected).

A checkpoint is issued when the stored Merkle tree has grown since the last one, by at least
``every_events`` leaves, or at all once ``every_seconds`` have passed since the last one (or since this
issuer started, before the first): a quiet log gets no new checkpoint. It commits the tree's current
size and root (:func:`~flowker.domain.merkle.root_at`, ``popcount(size)`` node reads) in a C2SP
``tlog-checkpoint`` body, signed as a C2SP signed note with the log's key
(:mod:`flowker.domain.checkpoint`). The size is the tree's when it is checked, so with batched appends
a checkpoint may cover a few more events than ``every_events``.

Each is stored (one per tree size: a second issuer of the same size, during a handover between two audit
actors, stores nothing) and, when a sink file is configured, appended to it, each note followed by a
blank line, and, when a URL is configured, sent to it (:mod:`flowker.actors.checkpoint_sink`), so
that a copy lives outside the database. A sink that cannot be written or a URL that does not take the
note is logged, and the next checkpoint (which commits to everything this one did) goes out as usual;
the stored checkpoint stands.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flowker.clock import Clock, iso, utc_now
from flowker.domain.checkpoint import Checkpoint, sign_checkpoint
from flowker.domain.merkle import NodeSnapshot, frontier_nodes, root_at
from flowker.domain.signed_note import SignerKey
from flowker.store.ports import AuditLog, CheckpointLog, StoredCheckpoint
from flowker.store.uri_masking import redacted

log = logging.getLogger("flowker.audit")

#: Sends one signed note to the configured URL; raises when it was not received.
NotePoster = Callable[[str], Awaitable[None]]


@dataclass(frozen=True)
class CheckpointPolicy:
    """When to issue: every ``every_events`` new events, or every ``every_seconds`` when it grew at all."""

    every_events: int
    every_seconds: float
    #: A file each checkpoint's note is appended to, or None.
    sink: Path | None = None
    #: A URL each checkpoint's note is POSTed to, or None.
    url: str | None = None


class Checkpointer:
    """Issues the audit log's checkpoints; :meth:`check` decides and issues, one at a time."""

    def __init__(
        self,
        audit_log: AuditLog,
        checkpoints: CheckpointLog,
        signer: SignerKey,
        policy: CheckpointPolicy,
        clock: Clock = utc_now,
        post: NotePoster | None = None,
    ) -> None:
        self._log = audit_log
        self._checkpoints = checkpoints
        self._signer = signer
        self._policy = policy
        self._clock = clock
        self._post = post
        self._last: tuple[int, datetime] | None = None
        self._lock = asyncio.Lock()

    async def check(self) -> StoredCheckpoint | None:
        """Issue a checkpoint if one is due; the one issued, else None."""
        async with self._lock:
            now = self._clock()
            if self._last is None:
                stored = await self._checkpoints.latest()
                # Before the first checkpoint, the period runs from this issuer's start.
                self._last = (0, now) if stored is None else (stored.tree_size, _parse(stored.created_at))
            last_size, last_time = self._last
            size = await self._log.tree_size()
            if size <= last_size:
                return None
            if size - last_size < self._policy.every_events and (
                (now - last_time).total_seconds() < self._policy.every_seconds
            ):
                return None
            issued = await self._issue(size, now)
            self._last = (size, now)
            return issued

    async def _issue(self, size: int, now: datetime) -> StoredCheckpoint | None:
        ids = frontier_nodes(size)
        root = root_at(NodeSnapshot(size, dict(zip(ids, await self._log.tree_nodes(ids), strict=True))), size)
        note = sign_checkpoint(Checkpoint(self._signer.name, size, root), self._signer)
        checkpoint = StoredCheckpoint(tree_size=size, root_hash=root, created_at=iso(now), note=note)
        if not await self._checkpoints.add(checkpoint):
            return None
        if self._policy.sink is not None:
            await asyncio.to_thread(_append, self._policy.sink, size, note)
        if self._policy.url is not None and self._post is not None:
            await _send(self._post, self._policy.url, size, note)
        return checkpoint


def _append(path: Path, size: int, note: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as sink:
            sink.write(note + "\n")
    except OSError as exc:
        log.error(
            "the audit checkpoint of tree size %d could not be written to %s: %s", size, path, exc.strerror
        )


async def _send(post: NotePoster, url: str, size: int, note: str) -> None:
    try:
        await post(note)
    except Exception as exc:  # whatever the receiver did, the stored checkpoint stands
        reason = str(exc) or type(exc).__name__
        log.error("the audit checkpoint of tree size %d was not taken by %s: %s", size, redacted(url), reason)


def _parse(created_at: str) -> datetime:
    return datetime.fromisoformat(created_at.replace("Z", "+00:00"))
