"""The audit log's signed checkpoints, one row per tree size (``audit_checkpoints``)."""

from __future__ import annotations

import sqlite3
from typing import Any

from flowker.store.embedded.database import Database
from flowker.store.ports import StoredCheckpoint

_COLUMNS = "tree_size, root_hash, created_at, note"


def _load(row: tuple[Any, ...]) -> StoredCheckpoint:
    return StoredCheckpoint(tree_size=row[0], root_hash=bytes(row[1]), created_at=row[2], note=row[3])


class EmbeddedCheckpoints:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, checkpoint: StoredCheckpoint) -> bool:
        def write(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                f"INSERT OR IGNORE INTO audit_checkpoints ({_COLUMNS}) VALUES (?, ?, ?, ?)",
                (checkpoint.tree_size, checkpoint.root_hash, checkpoint.created_at, checkpoint.note),
            )
            return cursor.rowcount == 1

        return await self._db.write(write)

    async def latest(self) -> StoredCheckpoint | None:
        found = await self.newest(1)
        return found[0] if found else None

    async def newest(self, limit: int, below: int | None = None) -> list[StoredCheckpoint]:
        def read(conn: sqlite3.Connection) -> list[StoredCheckpoint]:
            where, params = ("WHERE tree_size < ?", (below, limit)) if below is not None else ("", (limit,))
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_checkpoints {where} ORDER BY tree_size DESC LIMIT ?", params
            ).fetchall()
            return [_load(row) for row in rows]

        return await self._db.read(read)

    async def oldest(self, limit: int, above: int = 0) -> list[StoredCheckpoint]:
        def read(conn: sqlite3.Connection) -> list[StoredCheckpoint]:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM audit_checkpoints WHERE tree_size > ? ORDER BY tree_size LIMIT ?",
                (above, limit),
            ).fetchall()
            return [_load(row) for row in rows]

        return await self._db.read(read)
