"""Fetching Merkle proofs over the API and verifying them against roots computed independently from
the entry hashes that ``GET /v1/audit-events`` returns (tests/helpers/merkle_reference.py)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from flowker.domain.merkle import ConsistencyProof, InclusionProof
from tests.helpers.client import ApiClient
from tests.helpers.merkle_reference import naive_leaf, naive_root


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


async def check_inclusion(
    api: ApiClient, events: list[dict[str, Any]], sequence: int, size: int | None
) -> None:
    """The proof of event ``sequence`` in the tree of ``size`` events (default: all) verifies, and
    proves neither another event nor the same event in another tree."""
    params = {"treeSize": str(size)} if size is not None else {}
    event = events[sequence - 1]
    reply = await api.get(f"/v1/audit-events/{event['eventId']}/proof", params=params)
    assert reply.status == 200, reply.text
    expected = len(events) if size is None else size
    hashes = [e["hash"] for e in events]
    root = naive_root(hashes[:expected])
    assert reply.body["leafIndex"] == sequence - 1 and reply.body["treeSize"] == expected
    assert reply.body["rootHash"] == b64(root)
    proof = InclusionProof.from_json(reply.body)
    assert proof.verify(naive_leaf(event["hash"]), root)
    others = [i for i in range(expected) if i != sequence - 1]
    if others:
        assert not proof.verify(naive_leaf(hashes[others[0]]), root)
    if expected > 1:
        assert not proof.verify(naive_leaf(event["hash"]), naive_root(hashes[: expected - 1]))


async def check_consistency(
    api: ApiClient, events: list[dict[str, Any]], pairs: Iterable[tuple[int, int]]
) -> None:
    """Each ``(from, to)`` proof verifies between the two independent roots, and not against a wrong one."""
    hashes = [e["hash"] for e in events]
    for first, second in pairs:
        reply = await api.get("/v1/audit/consistency", params={"from": str(first), "to": str(second)})
        assert reply.status == 200, reply.text
        assert (reply.body["from"], reply.body["to"]) == (first, second)
        old, new = naive_root(hashes[:first]), naive_root(hashes[:second])
        assert reply.body["rootHash"] == b64(new)
        proof = ConsistencyProof.from_json(reply.body)
        assert proof.verify(old, new), (first, second)
        if first > 1:
            assert not proof.verify(naive_root(hashes[: first - 1]), new), (first, second)
