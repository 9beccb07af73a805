"""The audit log's Merkle tree nodes, over both store adapters: written with the records they come
from, in the same transaction, and read back by id; and the Sequencer that computes them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from flowker.actors.sequencer import Sequencer
from flowker.domain.audit import AuditAction, AuditEvent, ResourceType, seal
from flowker.domain.merkle import (
    Frontier,
    NodeId,
    NodeSnapshot,
    entry_leaf_hash,
    inclusion_proof,
    proof_nodes,
    root_at,
    verify_inclusion,
)
from flowker.errors import StateChanged
from flowker.store.ports import Store
from tests.helpers.merkle_reference import naive_leaf, naive_root
from tests.store.builders import make_workflow


def event(n: int) -> AuditEvent:
    return AuditEvent(
        "WORKFLOW_CREATED", AuditAction.CREATE, ResourceType.WORKFLOW, f"w{n}", metadata={"n": n}
    )


def sealed(count: int, first: int = 1, previous: str | None = None) -> list[dict[str, Any]]:
    records = []
    for sequence in range(first, first + count):
        record = seal(event(sequence).body("2026-01-01T00:00:00Z", sequence), previous)
        previous = record["hash"]
        records.append(record)
    return records


def nodes_of(frontier: Frontier, records: Sequence[dict[str, Any]]) -> list[tuple[NodeId, bytes]]:
    nodes: list[tuple[NodeId, bytes]] = []
    for record in records:
        nodes += frontier.append(entry_leaf_hash(record["hash"]))
    return nodes


async def snapshot(store: Store, size: int) -> NodeSnapshot:
    ids = proof_nodes(None, size)
    return NodeSnapshot(size, dict(zip(ids, await store.audit.tree_nodes(ids), strict=True)))


async def test_nodes_are_written_with_their_records_and_read_back(any_store: Store) -> None:
    assert await any_store.audit.tree_size() == 0
    assert await any_store.audit.tree_nodes([]) == []
    frontier = Frontier()
    records = sealed(5)
    nodes = nodes_of(frontier, records)
    await any_store.audit.append(records, (), nodes)
    assert await any_store.audit.tree_size() == 5
    ids = [node for node, _ in nodes]
    assert await any_store.audit.tree_nodes(ids[::-1]) == [digest for _, digest in nodes][::-1]
    assert root_at(await snapshot(any_store, 5), 5) == naive_root([r["hash"] for r in records])
    with pytest.raises(KeyError):
        await any_store.audit.tree_nodes([NodeId(0, 5)])
    assert await any_store.audit.entry_hashes(2, 2) == [(3, records[2]["hash"]), (4, records[3]["hash"])]
    assert await any_store.audit.entry_hashes(5, 10) == []


async def test_a_failed_append_keeps_none_of_its_nodes_and_a_taken_node_fails_the_append(
    any_store: Store,
) -> None:
    frontier = Frontier()
    records = sealed(2)
    await any_store.audit.append(records, (), nodes_of(frontier, records))

    # A sequence that is taken: its nodes are not kept.
    clash = sealed(1, first=2, previous=records[0]["hash"])
    with pytest.raises(StateChanged):
        await any_store.audit.append(clash, (), nodes_of(frontier.copy(), clash))
    assert await any_store.audit.tree_size() == 2

    # A node that is taken (another writer's tree): the records and the unstage are not kept either.
    late = event(99)
    await any_store.workflows.create(make_workflow("late"), [late])
    fresh = sealed(1, first=3, previous=records[-1]["hash"])
    with pytest.raises(StateChanged):
        await any_store.audit.append(fresh, [late.event_id], [(NodeId(0, 1), b"\x01" * 32)])
    assert await any_store.audit.head() == (2, records[-1]["hash"])
    assert await any_store.audit.staged(10) == [late]
    assert await any_store.audit.tree_size() == 2


async def test_the_sequencer_stores_the_tree_of_everything_it_chains(any_store: Store) -> None:
    sequencer = Sequencer(any_store.audit)
    for batch in range(6):
        await sequencer.append([event(10 * batch + i) for i in range(batch + 1)])
    await any_store.workflows.create(make_workflow("staged"), [event(1000)])
    await sequencer.drain()
    head, _ = await any_store.audit.head()
    assert head == 22
    assert await any_store.audit.tree_size() == head
    hashes = [h for _, h in await any_store.audit.entry_hashes(0, 100)]
    store = await snapshot(any_store, head)
    for size in (1, 7, 16, 22):
        assert root_at(await snapshot(any_store, size), size) == naive_root(hashes[:size])
    ids = proof_nodes(8, head)
    proof = inclusion_proof(
        NodeSnapshot(head, dict(zip(ids, await any_store.audit.tree_nodes(ids), strict=True))), 8, head
    )
    assert verify_inclusion(naive_leaf(hashes[8]), 8, head, proof.hashes, naive_root(hashes))
    assert root_at(store, head) == naive_root(hashes)

    # A second writer (a restarted actor) continues the tree from the stored frontier.
    restarted = Sequencer(any_store.audit)
    await restarted.append([event(2000), event(2001)])
    hashes = [h for _, h in await any_store.audit.entry_hashes(0, 100)]
    assert await any_store.audit.tree_size() == 24
    assert root_at(await snapshot(any_store, 24), 24) == naive_root(hashes)


async def test_a_failed_sequencer_write_leaves_no_nodes_and_the_next_one_continues(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    sequencer = Sequencer(any_store.audit)
    await sequencer.append([event(1), event(2), event(3)])
    original = any_store.audit.append

    async def failing(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(any_store.audit, "append", failing)
    with pytest.raises(OSError):
        await sequencer.append([event(4)])
    monkeypatch.setattr(any_store.audit, "append", original)
    assert await any_store.audit.tree_size() == 3
    await sequencer.append([event(5), event(6)])
    hashes = [h for _, h in await any_store.audit.entry_hashes(0, 100)]
    assert len(hashes) == 5 and await any_store.audit.tree_size() == 5
    assert root_at(await snapshot(any_store, 5), 5) == naive_root(hashes)


async def test_events_chained_before_the_tree_get_their_nodes_in_bounded_batches(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A log written without tree nodes, as before schema v4.
    records = sealed(11)
    await any_store.audit.append(records[:6])
    await any_store.audit.append(records[6:])
    monkeypatch.setattr("flowker.actors.audit_tree.MERKLE_CATCH_UP_BATCH", 4)
    calls: list[tuple[int, int]] = []
    original = any_store.audit.append

    async def counting(records: Any, unstage: Any = (), nodes: Any = ()) -> None:
        calls.append((len(records), sum(1 for node, _ in nodes if node.level == 0)))
        await original(records, unstage, nodes)

    monkeypatch.setattr(any_store.audit, "append", counting)
    sequencer = Sequencer(any_store.audit)
    await sequencer.append([event(50)])
    assert calls == [(0, 4), (0, 4), (0, 3), (1, 1)]  # three catch-up writes, then the append itself
    hashes = [h for _, h in await any_store.audit.entry_hashes(0, 100)]
    assert await any_store.audit.tree_size() == 12
    assert root_at(await snapshot(any_store, 12), 12) == naive_root(hashes)


async def test_a_chain_shorter_than_its_tree_stops_the_tree_but_not_the_chain(any_store: Store) -> None:
    # The tree holds leaves for three events, the chain only two (the newest deleted behind Flowker).
    records = sealed(3)
    frontier = Frontier()
    await any_store.audit.append(records[:2], (), nodes_of(frontier, records[:2]))
    await any_store.audit.append((), (), nodes_of(frontier, records[2:]))
    assert await any_store.audit.tree_size() == 3
    await Sequencer(any_store.audit).append([event(7)])
    assert (await any_store.audit.head())[0] == 3
    assert await any_store.audit.tree_size() == 3  # no node was overwritten or added
