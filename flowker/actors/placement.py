"""Which node of the cluster an actor is asked to run on: pure and Ray-free (:mod:`flowker.actors.factory`
asks Ray for it as a preference: a node that is gone is passed over for another).

Ray's own ``SPREAD`` strategy round-robins per scheduling raylet, so actors made by different processes
(every supervisor makes executor actors) pile up on the node each raylet tries first; measured on a
three-node cluster, three executor actors made by three supervisors all went to one node, and three
supervisors made in a row by one front door to two. Choosing the node here spreads them whoever makes
them, and says in advance where each one goes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def node_for_index(index: int, node_ids: Sequence[str]) -> str | None:
    """The node of the ``index``-th actor of a pool: the pool goes round the nodes (ordered by id)."""
    if not node_ids:
        return None
    ordered = sorted(node_ids)
    return ordered[index % len(ordered)]


def node_for_key(key: str, node_ids: Sequence[str]) -> str | None:
    """The node of the actor named by ``key``: the same on every process that asks (a hash of the key)."""
    return node_for_index(int(hashlib.sha256(key.encode()).hexdigest()[:12], 16), node_ids)
