"""Whether a Ray cluster fits the store: pure and Ray-free (:mod:`flowker.actors.cluster` feeds it).

The embedded store is one SQLite file on one machine's disk. Every Ray node of one machine opens that
same file, so a cluster of several nodes on one host is fine; nodes on another host would open a file of
their own and split the data. Such a cluster needs a store every host reaches: MongoDB.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NodeHost:
    """Where one live Ray node runs."""

    node_id: str
    address: str
    hostname: str

    @property
    def host(self) -> tuple[str, str]:
        """Nodes share a host when they share both the node address and the host name."""
        return (self.address, self.hostname)


def live_nodes(nodes: Iterable[Mapping[str, Any]]) -> tuple[NodeHost, ...]:
    """The live nodes of a ``ray.nodes()`` answer."""
    return tuple(
        NodeHost(
            node_id=str(node.get("NodeID", "")),
            address=str(node.get("NodeManagerAddress", "")),
            hostname=str(node.get("NodeManagerHostname", "")),
        )
        for node in nodes
        if node.get("Alive")
    )


def hosts(nodes: Sequence[NodeHost]) -> list[tuple[str, str]]:
    """The distinct hosts the nodes run on, in a stable order."""
    return sorted({node.host for node in nodes})


def refusal(nodes: Sequence[NodeHost], store_shared_across_hosts: bool) -> str | None:
    """Why Flowker must not run on this cluster with this store, or None when it may.

    A cluster on one host is fine with any store; one that spans hosts needs a store shared across them.
    """
    spanned = hosts(nodes)
    if len(spanned) <= 1 or store_shared_across_hosts:
        return None
    shown = ", ".join(f"{hostname or '?'} ({address or '?'})" for address, hostname in spanned)
    return (
        f"the Ray cluster spans {len(spanned)} hosts ({shown}) and the embedded store serves one host "
        "only: set FLOWKER_MONGO_URI to a MongoDB that every host reaches"
    )
