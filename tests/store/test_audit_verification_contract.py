"""The stored log verified and exported in batches, over both store adapters; tampering with the
embedded store's SQLite file (a searched column, the newest events) is reported."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from flowker.domain import audit_verify
from flowker.domain.audit_verify import LogVerifier, Reason
from flowker.domain.signed_note import generate_key
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from flowker.store.ports import Store, StoredCheckpoint
from flowker.usecases.audit_checkpoints import render
from flowker.usecases.audit_verification import export_chunks, verify_stored
from tests.helpers.audit_log import KEY, ORIGIN, build_log, checkpoint_note, searched
from tests.helpers.merkle_reference import naive_root

SIZE = 50
SIZES = (5, 10, 20, 25, 40, 50)
LOG = build_log(SIZE, legacy=4)


async def fill(store: Store, records: list[dict[str, Any]] = LOG, sizes: tuple[int, ...] = SIZES) -> None:
    for start in range(0, len(records), 16):
        await store.audit.append(records[start : start + 16])
    for size in sizes:
        root = naive_root([r["hash"] for r in LOG[:size]])
        note = checkpoint_note(LOG, size)
        assert await store.checkpoints.add(StoredCheckpoint(size, root, "2026-12-01T12:00:00.000000Z", note))


async def test_records_come_in_order_with_their_searched_values(any_store: Store) -> None:
    await fill(any_store)
    rows = await any_store.audit.records(0, 7)
    assert [row.sequence for row in rows] == list(range(1, 8))
    assert [row.record for row in rows] == LOG[:7]
    assert [row.searched for row in rows] == [searched(r) for r in LOG[:7]]
    assert [row.sequence for row in await any_store.audit.records(45, 100)] == list(range(46, 51))
    assert await any_store.audit.records(50, 10) == []


async def test_checkpoints_come_smallest_first_after_a_size(any_store: Store) -> None:
    await fill(any_store)
    assert [c.tree_size for c in await any_store.checkpoints.oldest(3)] == [5, 10, 20]
    assert [c.tree_size for c in await any_store.checkpoints.oldest(10, 20)] == [25, 40, 50]
    assert await any_store.checkpoints.oldest(10, 50) == []


async def direct(verifier: LogVerifier, rows: list[Any]) -> bool:
    return verifier.feed([r.record for r in rows], [r.searched for r in rows])


@pytest.mark.parametrize("batch", [1, 3, 16, 1000])
async def test_the_stored_log_verifies_in_batches_against_every_checkpoint(
    any_store: Store, batch: int
) -> None:
    await fill(any_store)
    result = await verify_stored(any_store, KEY.verifier(), SIZE, batch=batch)
    assert result.is_valid, result
    assert (result.checked, result.checkpoints_checked) == (SIZE, len(SIZES))
    partial = await verify_stored(any_store, KEY.verifier(), 22, batch=batch, offload=direct)
    assert partial.is_valid and (partial.checked, partial.checkpoints_checked) == (22, 3)


async def test_stored_checkpoints_signed_by_another_key_are_bad_signatures(any_store: Store) -> None:
    await fill(any_store)
    result = await verify_stored(any_store, generate_key(ORIGIN).verifier(), SIZE)
    assert (result.reason, result.first_invalid_sequence) == (Reason.BAD_SIGNATURE, 5)


async def test_the_export_interleaves_checkpoints_after_their_events_and_verifies(any_store: Store) -> None:
    await fill(any_store)
    body = b"".join([chunk async for chunk in export_chunks(any_store, ORIGIN)])
    lines = [orjson.loads(line) for line in body.splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["treeSize"] == SIZE and lines[0]["origin"] == ORIGIN
    assert lines[-1] == {"type": "end", "events": SIZE, "checkpoints": len(SIZES)}
    kinds = [
        (
            line["type"],
            line.get("treeSize") if line["type"] == "checkpoint" else line.get("event", {}).get("sequence"),
        )
        for line in lines[1:-1]
    ]
    expected: list[tuple[str, int]] = []
    for record in LOG:
        expected.append(("event", record["sequence"]))
        expected += [("checkpoint", s) for s in SIZES if s == record["sequence"]]
    assert kinds == expected
    stored = {c.tree_size: render(c) for c in await any_store.checkpoints.newest(100)}
    assert [line for line in lines if line["type"] == "checkpoint"] == [
        {"type": "checkpoint", **stored[s]} for s in SIZES
    ]
    records = [line["event"] for line in lines if line["type"] == "event"]
    notes = [line["note"] for line in lines if line["type"] == "checkpoint"]
    assert audit_verify.verify_records(records, notes, KEY.verifier()).is_valid


def sql(settings: Settings, statement: str, *params: Any) -> int:
    with contextlib.closing(sqlite3.connect(Path(settings.data_dir) / "flowker.db")) as conn:
        changed = conn.execute(statement, params).rowcount
        conn.commit()
    return changed


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("event_type", "WORKFLOW_DELETED"),
        ("action", "DELETE"),
        ("result", "FAILED"),
        ("resource_type", "execution"),
        ("resource_id", "00000000-0000-0000-0000-00000000abcd"),
        ("created_at", "2020-01-01T00:00:00.000000Z"),
        ("event_id", "00000000-0000-0000-0000-00000000abcd"),
    ],
)
async def test_an_edited_searched_column_is_a_column_mismatch(
    settings: Settings, column: str, value: str
) -> None:
    store = await EmbeddedStore(settings.data_dir).open()
    try:
        await fill(store)
        assert sql(settings, f"UPDATE audit_events SET {column} = ? WHERE sequence = 17", value) == 1
        result = await verify_stored(store, KEY.verifier(), SIZE)
        assert (result.reason, result.first_invalid_sequence, result.checked) == (
            Reason.COLUMN_MISMATCH,
            17,
            16,
        )
        assert (await verify_stored(store, KEY.verifier(), 16)).is_valid
    finally:
        await store.close()


async def test_deleting_the_newest_events_is_truncation_whichever_event_is_verified(
    settings: Settings,
) -> None:
    store = await EmbeddedStore(settings.data_dir).open()
    try:
        await fill(store)
        assert sql(settings, "DELETE FROM audit_events WHERE sequence > 43") == 7
        for through in (43, 30, 3):
            result = await verify_stored(store, KEY.verifier(), through)
            assert (result.reason, result.first_invalid_sequence) == (Reason.TRUNCATED, 44), result
            assert result.checked == through and result.first_invalid_id is None
        body = b"".join([chunk async for chunk in export_chunks(store, ORIGIN)])
        lines = [orjson.loads(line) for line in body.splitlines()]
        assert lines[-2]["type"] == "checkpoint" and lines[-2]["treeSize"] == 50  # kept, after the last event
        records = [line["event"] for line in lines if line["type"] == "event"]
        notes = [line["note"] for line in lines if line["type"] == "checkpoint"]
        result = audit_verify.verify_records(records, notes, KEY.verifier())
        assert (result.reason, result.first_invalid_sequence) == (Reason.TRUNCATED, 44)
    finally:
        await store.close()
