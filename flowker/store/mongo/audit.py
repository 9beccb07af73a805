"""The audit log (``audit_events``): ``_id`` is the sequence, so two writers that both append sequence N
cannot both succeed (the loser reloads the head); ``eventId`` is unique too.

Each record is kept as the exact JSON that was hashed (``doc``), next to the fields the list filters on:
what verification reads back is byte for byte what was sealed, whatever BSON does with dates or numbers.
The Merkle tree's nodes (``merkle_nodes``) are written in the transaction of the records they cover.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import PyMongoError

import flowker.store.mongo.outbox as outbox
from flowker.domain.audit import AuditEvent
from flowker.domain.merkle import NodeId
from flowker.errors import StateChanged
from flowker.store.mongo.database import MongoDatabase, duplicate_key
from flowker.store.mongo.schema import AUDIT_EVENTS, MERKLE_NODES
from flowker.store.ports import AuditQuery, Page, StoredRecord

_FILTERS = {
    "event_type": "eventType",
    "action": "action",
    "result": "result",
    "resource_type": "resourceType",
    "resource_id": "resourceId",
}


def _document(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "_id": record["sequence"],
        "eventId": record["eventId"],
        "eventType": record["eventType"],
        "action": record["action"],
        "result": record["result"],
        "resourceType": record["resourceType"],
        "resourceId": record["resourceId"],
        "timestamp": record["timestamp"],
        "hash": record["hash"],
        "doc": orjson.dumps(record).decode(),
    }


#: The document's searched fields under the record's field names (``_id`` is the sequence).
_SEARCHED = {
    "_id": "sequence",
    "eventId": "eventId",
    "eventType": "eventType",
    "action": "action",
    "result": "result",
    "resourceType": "resourceType",
    "resourceId": "resourceId",
    "timestamp": "timestamp",
}


def _stored(found: dict[str, Any]) -> StoredRecord:
    """The record with the values the store finds it by, so that verification sees an edited field."""
    searched = {name: found.get(field) for field, name in _SEARCHED.items()}
    return StoredRecord(int(found["_id"]), _record(found), searched)


def _record(found: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = orjson.loads(found["doc"])
    return record


class MongoAuditLog:
    def __init__(self, database: MongoDatabase) -> None:
        self._database = database
        self._events = database.collection(AUDIT_EVENTS)
        self._nodes = database.collection(MERKLE_NODES)

    async def head(self) -> tuple[int, str | None]:
        """The last sequence number and hash (``(0, None)`` for an empty log)."""
        found = await self._database.run(
            lambda: self._events.find_one({}, {"hash": 1}, sort=[("_id", DESCENDING)])
        )
        return (0, None) if found is None else (int(found["_id"]), found["hash"])

    async def staged(self, limit: int) -> list[AuditEvent]:
        return await outbox.staged(self._database, limit)

    async def append(
        self,
        records: Sequence[dict[str, Any]],
        unstage: Sequence[str] = (),
        nodes: Sequence[tuple[NodeId, bytes]] = (),
    ) -> None:
        """Insert sealed records and their Merkle tree nodes, and remove ``unstage`` from the outbox, in
        one transaction; :class:`StateChanged` if any sequence, event id or tree node is taken.

        A retry of an append whose answer was lost finds its sequences taken: StateChanged, which the
        audit writer answers by reloading the head (nothing is chained twice).
        """

        async def write(session: Any) -> None:
            await outbox.unstage(self._database, session, unstage)
            try:
                if records:
                    await self._events.insert_many([_document(r) for r in records], session=session)
                if nodes:
                    await self._nodes.insert_many(
                        [
                            {
                                "_id": f"{n.level}:{n.index}",
                                "level": n.level,
                                "index": n.index,
                                "hash": digest,
                            }
                            for n, digest in nodes
                        ],
                        session=session,
                    )
            except PyMongoError as exc:
                if duplicate_key(exc) is None:
                    raise
                raise StateChanged("the audit log (another writer appended first)") from None

        await self._database.transaction(write)

    async def tree_size(self) -> int:
        """The leaves of the Merkle tree: the last leaf's index plus one."""
        found = await self._database.run(
            lambda: self._nodes.find_one({"level": 0}, {"index": 1}, sort=[("index", DESCENDING)])
        )
        return 0 if found is None else int(found["index"]) + 1

    async def tree_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """The hashes of ``ids`` (one query); ``KeyError`` naming the first missing one."""
        if not ids:
            return []

        async def read() -> list[dict[str, Any]]:
            keys = [f"{node.level}:{node.index}" for node in ids]
            return await self._nodes.find({"_id": {"$in": keys}}).to_list(None)

        found = {(f["level"], f["index"]): bytes(f["hash"]) for f in await self._database.run(read)}
        return [found[(node.level, node.index)] for node in ids]

    async def entry_hashes(self, after: int, limit: int) -> list[tuple[int, str]]:
        """``(sequence, hash)`` of up to ``limit`` events after ``after``, in order."""
        if limit == 0:
            return []

        async def read() -> list[dict[str, Any]]:
            cursor = self._events.find({"_id": {"$gt": after}}, {"hash": 1}).sort([("_id", ASCENDING)])
            return await cursor.limit(max(limit, 0)).to_list(None)

        return [(int(f["_id"]), f["hash"]) for f in await self._database.run(read)]

    async def sequences_of(self, event_ids: Sequence[str]) -> dict[str, int]:
        if not event_ids:
            return {}

        async def read() -> list[dict[str, Any]]:
            return await self._events.find({"eventId": {"$in": list(event_ids)}}, {"eventId": 1}).to_list(
                None
            )

        return {f["eventId"]: int(f["_id"]) for f in await self._database.run(read)}

    async def get(self, event_id: str) -> dict[str, Any] | None:
        found = await self._database.run(lambda: self._events.find_one({"eventId": event_id}))
        return _record(found) if found else None

    async def up_to(self, sequence: int) -> list[dict[str, Any]]:
        """Every record from the first to ``sequence``, in order (what verification reads)."""

        async def read() -> list[dict[str, Any]]:
            cursor = self._events.find({"_id": {"$lte": sequence}}).sort([("_id", ASCENDING)])
            return await cursor.to_list(None)

        return [_record(f) for f in await self._database.run(read)]

    async def records(self, after: int, limit: int) -> list[StoredRecord]:
        """Up to ``limit`` records after sequence ``after``, in order, each with its searched fields."""

        async def read() -> list[dict[str, Any]]:
            cursor = self._events.find({"_id": {"$gt": after}}).sort([("_id", ASCENDING)])
            return await cursor.limit(max(limit, 0)).to_list(None)

        if limit <= 0:
            return []
        return [_stored(found) for found in await self._database.run(read)]

    async def list(self, query: AuditQuery) -> Page[dict[str, Any]]:
        where: dict[str, Any] = {}
        for name, field in _FILTERS.items():
            value = getattr(query, name)
            if value:
                where[field] = value
        moment: dict[str, Any] = {}
        if query.date_from:
            moment["$gte"] = query.date_from
        if query.date_to:
            moment["$lte"] = query.date_to
        if moment:
            where["timestamp"] = moment
        descending = query.sort_order == "DESC"
        if query.after is not None:
            where["_id"] = {"$lt" if descending else "$gt": query.after}

        async def read() -> list[dict[str, Any]]:
            cursor = self._events.find(where).sort([("_id", DESCENDING if descending else ASCENDING)])
            return await cursor.limit(query.limit + 1).to_list(None)

        found = await self._database.run(read)
        return Page([_record(f) for f in found[: query.limit]], has_more=len(found) > query.limit)
