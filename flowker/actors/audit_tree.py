"""The audit writer's side of the Merkle tree: the frontier it extends with each batch, Ray-free.

Leaf ``s - 1`` is the event of sequence ``s``, hashed with :func:`~flowker.domain.merkle.entry_leaf_hash`.
The writer holds the tree's :class:`~flowker.domain.merkle.Frontier` (``popcount(size)`` hashes), loaded
from the stored nodes when it (re)loads the chain head, so a batch's nodes are computed without reading
any. Events chained before the tree existed (a store migrated from schema v3) are added at load, in
batches of ``MERKLE_CATCH_UP_BATCH`` events, each batch's nodes in one write: memory stays bounded and
an interrupted catch-up resumes where it stopped.

A log the tree cannot follow (a sequence gap, an entry hash that is not 64 hex digits, a chain shorter
than the tree: a tampered store)
stops the tree growing, with an error logged; events are still chained, and the verify endpoint is what
reports the damage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from flowker.domain.merkle import Frontier, NodeId, entry_leaf_hash, frontier_nodes
from flowker.store.ports import AuditLog
from flowker.tunables import MERKLE_CATCH_UP_BATCH

log = logging.getLogger("flowker.audit")

Nodes = list[tuple[NodeId, bytes]]


class TreeWriter:
    """The frontier of the stored tree; ``None`` once the log is one the tree cannot follow."""

    def __init__(self, audit_log: AuditLog) -> None:
        self._log = audit_log
        self._frontier: Frontier | None = Frontier()

    @property
    def size(self) -> int | None:
        return self._frontier.size if self._frontier is not None else None

    async def load(self, head: int) -> None:
        """Load the frontier from the store, then add the leaves of events up to ``head`` it lacks."""
        size = await self._log.tree_size()
        frontier = Frontier(size, await self._log.tree_nodes(frontier_nodes(size)))
        if size > head:
            log.error(
                "the audit log's Merkle tree has %d leaves but the chain %d events: it stops", size, head
            )
            self._frontier = None
            return
        while frontier.size < head:
            chunk = await self._log.entry_hashes(frontier.size, MERKLE_CATCH_UP_BATCH)
            grown = _grow(frontier, chunk)
            if grown is None:
                self._frontier = None
                return
            frontier, nodes = grown
            await self._log.append((), (), nodes)
        self._frontier = frontier

    def extend(self, head: int, records: Sequence[dict[str, Any]]) -> tuple[Frontier | None, Nodes]:
        """The frontier after ``records`` (chained after sequence ``head``) and the nodes they complete;
        nothing changes until :meth:`adopt`, once the store has taken them."""
        if self._frontier is None or self._frontier.size != head:
            return None, []
        if not records:
            return self._frontier, []
        grown = _grow(self._frontier, [(r["sequence"], r["hash"]) for r in records])
        return grown if grown is not None else (None, [])

    def adopt(self, frontier: Frontier | None) -> None:
        self._frontier = frontier


def _grow(frontier: Frontier, hashes: Sequence[tuple[int, str]]) -> tuple[Frontier, Nodes] | None:
    grown, nodes = frontier.copy(), []
    for sequence, entry_hash in hashes:
        try:
            if sequence != grown.size + 1:
                raise ValueError(f"sequence {sequence} follows {grown.size}")
            nodes += grown.append(entry_leaf_hash(entry_hash))
        except ValueError as exc:
            log.error("the audit log's Merkle tree stops at %d events: %s", grown.size, exc)
            return None
    if not hashes:
        log.error("the audit log's Merkle tree stops at %d events: the next event is missing", grown.size)
        return None
    return grown, nodes
