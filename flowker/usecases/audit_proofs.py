"""Merkle proofs over the audit log (RFC 9162 §2.1.3, §2.1.4): inclusion of an event in a tree size,
and consistency between two sizes. Each reads the tree's size, then every node it needs in one store
read — ``O(log n)`` nodes, never the chain — and computes the proof with :mod:`flowker.domain.merkle`.

The event of sequence ``s`` is leaf ``s - 1``. The log's size is the tree's: the leaves the audit
writer has stored nodes for (the same as the chain's length, once it has caught up at start).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flowker.codes import INVALID_PROOF_RANGE
from flowker.domain.merkle import (
    NodeSnapshot,
    ProofRangeError,
    consistency_proof,
    encode_hashes,
    inclusion_proof,
    proof_nodes,
    root_at,
)
from flowker.errors import BadRequest
from flowker.store.ports import AuditLog

#: Longest decimal size accepted (a sequence number is at most 18 digits in a cursor too).
_SIZE = re.compile(r"[0-9]{1,18}")


def parse_size(params: Mapping[str, str], name: str) -> int | None:
    """A size parameter: absent is None, anything but a decimal whole number 400 FLK-0611."""
    raw = params.get(name)
    if raw is None:
        return None
    if not _SIZE.fullmatch(raw):
        raise BadRequest(f"{name} must be a whole number", code=INVALID_PROOF_RANGE)
    return int(raw)


async def _snapshot(audit_log: AuditLog, size: int, leaf: int | None, first: int | None) -> NodeSnapshot:
    """The nodes of the tree of ``size`` leaves that its root and the proof need, in one read."""
    ids = proof_nodes(leaf, size, first)
    return NodeSnapshot(size, dict(zip(ids, await audit_log.tree_nodes(ids), strict=True)))


async def inclusion(audit_log: AuditLog, sequence: int, tree_size: int | None) -> dict[str, Any]:
    """``{leafIndex, treeSize, hashes, rootHash}`` for the event of ``sequence`` (``tree_size``: now)."""
    size = await audit_log.tree_size()
    wanted = size if tree_size is None else tree_size
    leaf = sequence - 1
    if not leaf < wanted <= size:
        raise BadRequest(
            f"treeSize must be from {sequence} (this event's leafIndex + 1) to {size} (the log's size),"
            f" got {wanted}",
            code=INVALID_PROOF_RANGE,
        )
    nodes = await _snapshot(audit_log, wanted, leaf, None)
    try:
        proof = inclusion_proof(nodes, leaf, wanted)
    except ProofRangeError as exc:
        raise BadRequest(str(exc), code=INVALID_PROOF_RANGE) from None
    return {**proof.to_json(), "rootHash": encode_hashes([root_at(nodes, wanted)])[0]}


async def consistency(audit_log: AuditLog, first: int | None, second: int | None) -> dict[str, Any]:
    """``{from, to, hashes, rootHash}``: the tree of ``second`` events extends that of ``first``."""
    size = await audit_log.tree_size()
    if first is None or second is None:
        raise BadRequest("from and to are both required", code=INVALID_PROOF_RANGE)
    if not 0 < first <= second <= size:
        raise BadRequest(
            f"from and to must satisfy 1 <= from <= to <= {size} (the log's size),"
            f" got from={first}, to={second}",
            code=INVALID_PROOF_RANGE,
        )
    nodes = await _snapshot(audit_log, second, None, first)
    try:
        proof = consistency_proof(nodes, first, second)
    except ProofRangeError as exc:
        raise BadRequest(str(exc), code=INVALID_PROOF_RANGE) from None
    return {**proof.to_json(), "rootHash": encode_hashes([root_at(nodes, second)])[0]}
