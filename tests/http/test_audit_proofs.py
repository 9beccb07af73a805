"""``GET /v1/audit-events/{id}/proof`` and ``GET /v1/audit/consistency`` over the in-process runtime:
proofs for several events and sizes verify against roots computed independently from the listed
entry hashes; bad sizes are 400 FLK-0611, unknown events 404 FLK-0600; and a proof reads O(log n)
tree nodes, never the chain."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flowker.store.embedded import EmbeddedStore
from tests.helpers.audit import all_events
from tests.helpers.audit_proofs import check_consistency, check_inclusion
from tests.helpers.client import ApiClient
from tests.http.test_openapi import check

PROOF = "/v1/audit-events/{id}/proof"
CONSISTENCY = "/v1/audit/consistency"


async def activity(api: ApiClient, count: int, prefix: str = "proof") -> list[dict[str, Any]]:
    for n in range(count):
        body = {"name": f"{prefix} {n}", "nodes": [{"id": "start", "type": "trigger"}], "edges": []}
        reply = await api.post("/v1/workflows", body)
        assert reply.status == 201, reply.text
        if n % 3 == 0:
            deleted = await api.delete(f"/v1/workflows/{reply.body['workflowId']}")
            assert deleted.status == 204, deleted.text
    return await all_events(api)


async def test_inclusion_proofs_verify_for_several_events_and_sizes(api: ApiClient) -> None:
    events = await activity(api, 16)
    total = len(events)
    assert total == 22
    for size in (1, 2, 3, 7, 8, 9, 16, 21, total):
        for sequence in sorted({1, (size + 1) // 2, size}):
            await check_inclusion(api, events, sequence, size)
    for sequence in (1, 5, total):
        await check_inclusion(api, events, sequence, None)  # the current size by default
    shown = await api.get(f"/v1/audit-events/{events[4]['eventId']}/proof", params={"treeSize": "9"})
    check(shown, "get", PROOF)


async def test_consistency_proofs_verify_between_sizes(api: ApiClient) -> None:
    events = await activity(api, 10)
    total = len(events)
    pairs = [(1, total), (1, 1), (2, 3), (4, 8), (5, 8), (7, 13), (8, 8), (6, total), (total, total)]
    await check_consistency(api, events, pairs)
    check(await api.get(CONSISTENCY, params={"from": "3", "to": str(total)}), "get", CONSISTENCY)
    # The log grows: the old root is consistent with the new one.
    await activity(api, 3, prefix="later")
    grown = await all_events(api)
    assert len(grown) > total
    await check_consistency(api, grown, [(total, len(grown)), (1, len(grown))])


async def test_bad_sizes_and_unknown_events_are_refused(api: ApiClient, anon: ApiClient) -> None:
    events = await activity(api, 4)
    total = len(events)
    third = events[2]["eventId"]
    for size in ("abc", "", "0", "-1", "1.5", "2", str(total + 1), "99999999999999999999"):
        reply = await api.get(f"/v1/audit-events/{third}/proof", params={"treeSize": size})
        check(reply, "get", PROOF).error(400, "FLK-0611")
    check(await api.get(f"/v1/audit-events/{uuid.uuid4()}/proof"), "get", PROOF).error(404, "FLK-0600")
    check(await api.get("/v1/audit-events/nope/proof"), "get", PROOF).error(400, "FLK-0002")
    for params in (
        {},
        {"from": "1"},
        {"to": "2"},
        {"from": "0", "to": "2"},
        {"from": "3", "to": "2"},
        {"from": "1", "to": str(total + 1)},
        {"from": "x", "to": "2"},
        {"from": "1", "to": "2.0"},
    ):
        check(await api.get(CONSISTENCY, params=params), "get", CONSISTENCY).error(400, "FLK-0611")
    check(await anon.get(f"/v1/audit-events/{third}/proof"), "get", PROOF).error(401, "UNAUTHORIZED")
    check(await anon.get(CONSISTENCY, params={"from": "1", "to": "2"}), "get", CONSISTENCY).error(
        401, "UNAUTHORIZED"
    )


async def test_a_proof_reads_log_n_nodes_and_never_the_chain(
    api: ApiClient, store: EmbeddedStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = await activity(api, 40)
    total = len(events)
    assert total > 50
    read: list[int] = []
    original = store.audit.tree_nodes

    async def counting(ids: Any) -> list[bytes]:
        read.append(len(ids))
        return await original(ids)

    async def refused(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a proof read the chain")

    monkeypatch.setattr(store.audit, "tree_nodes", counting)
    monkeypatch.setattr(store.audit, "up_to", refused)
    monkeypatch.setattr(store.audit, "entry_hashes", refused)
    await check_inclusion(api, events, 37, None)
    await check_consistency(api, events, [(37, total)])
    bound = 3 * total.bit_length()  # the root's nodes, then the proof's: at most 2 per level, shared
    assert len(read) == 2 and all(0 < count <= bound for count in read), read
