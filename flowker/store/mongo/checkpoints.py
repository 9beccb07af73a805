"""The audit log's signed checkpoints (``audit_checkpoints``, ``_id`` the tree size: one per size)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import PyMongoError

from flowker.store.mongo.database import MongoDatabase, duplicate_key
from flowker.store.mongo.schema import CHECKPOINTS
from flowker.store.ports import StoredCheckpoint


def _load(found: dict[str, Any]) -> StoredCheckpoint:
    return StoredCheckpoint(
        tree_size=int(found["_id"]),
        root_hash=bytes(found["rootHash"]),
        created_at=found["createdAt"],
        note=found["note"],
    )


class MongoCheckpoints:
    def __init__(self, database: MongoDatabase) -> None:
        self._database = database
        self._checkpoints = database.collection(CHECKPOINTS)

    async def add(self, checkpoint: StoredCheckpoint) -> bool:
        doc = {
            "_id": checkpoint.tree_size,
            "rootHash": checkpoint.root_hash,
            "createdAt": checkpoint.created_at,
            "note": checkpoint.note,
        }

        async def insert() -> bool:
            try:
                await self._checkpoints.insert_one(doc)
            except PyMongoError as exc:
                if duplicate_key(exc) is None:
                    raise
                return False
            return True

        return await self._database.run(insert)

    async def latest(self) -> StoredCheckpoint | None:
        found = await self.newest(1)
        return found[0] if found else None

    async def newest(self, limit: int, below: int | None = None) -> list[StoredCheckpoint]:
        if limit == 0:
            return []
        where = {"_id": {"$lt": below}} if below is not None else {}

        async def read() -> list[dict[str, Any]]:
            cursor = self._checkpoints.find(where).sort([("_id", DESCENDING)])
            return await cursor.limit(max(limit, 0)).to_list(None)

        return [_load(found) for found in await self._database.run(read)]

    async def oldest(self, limit: int, above: int = 0) -> list[StoredCheckpoint]:
        if limit <= 0:
            return []

        async def read() -> list[dict[str, Any]]:
            cursor = self._checkpoints.find({"_id": {"$gt": above}}).sort([("_id", ASCENDING)])
            return await cursor.limit(limit).to_list(None)

        return [_load(found) for found in await self._database.run(read)]
