"""The audit checkpoints port over both store adapters: one per tree size, newest first, bounded."""

from __future__ import annotations

from flowker.store.ports import Store, StoredCheckpoint


def checkpoint(size: int) -> StoredCheckpoint:
    return StoredCheckpoint(
        size, bytes([size % 256]) * 32, f"2026-01-01T00:00:{size % 60:02d}.000000Z", f"n{size}\n"
    )


async def test_checkpoints_are_stored_once_per_size_and_listed_newest_first(any_store: Store) -> None:
    log = any_store.checkpoints
    assert await log.latest() is None
    assert await log.newest(10) == []
    for size in (3, 10, 7):
        assert await log.add(checkpoint(size)) is True
    assert (
        await log.add(StoredCheckpoint(10, b"\x00" * 32, "2027-01-01T00:00:00.000000Z", "other\n")) is False
    )
    assert await log.latest() == checkpoint(10)
    assert await log.newest(10) == [checkpoint(10), checkpoint(7), checkpoint(3)]
    assert await log.newest(2) == [checkpoint(10), checkpoint(7)]
    assert await log.newest(10, below=10) == [checkpoint(7), checkpoint(3)]
    assert await log.newest(10, below=3) == []
