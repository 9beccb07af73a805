"""The audit outbox: events written in the transaction of the change they describe.

Each staged event takes the next ``position`` of one counter (``meta`` ``{_id: "outbox"}``), incremented
in the same transaction: like SQLite's single writer, the counter orders the outbox by commit (two
transactions that stage events conflict on it, and the loser runs again after the winner committed).
The audit writer moves events into the hash chain and removes them here in one transaction of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import orjson
from pymongo import ASCENDING, ReturnDocument

from flowker.domain.audit import AuditEvent
from flowker.store.mongo.database import MongoDatabase
from flowker.store.mongo.schema import META, OUTBOX

log = logging.getLogger("flowker.audit")


async def stage(database: MongoDatabase, session: Any, events: Sequence[AuditEvent]) -> None:
    """Add ``events`` to the outbox inside ``session``'s transaction (an event staged twice is kept once,
    at its first position)."""
    unique = list({event.event_id: event for event in events}.values())
    if not unique:
        return
    outbox = database.collection(OUTBOX)
    # Read inside the transaction: a concurrent transaction staging the same event conflicts with this
    # one's insert (a transient error: this one runs again and then finds it).
    cursor = outbox.find({"_id": {"$in": [event.event_id for event in unique]}}, {"_id": 1}, session=session)
    known = {found["_id"] for found in await cursor.to_list(None)}
    fresh = [event for event in unique if event.event_id not in known]
    if not fresh:
        return
    counter = await database.collection(META).find_one_and_update(
        {"_id": "outbox"},
        {"$inc": {"position": len(fresh)}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
        session=session,
    )
    first = int(counter["position"]) - len(fresh) + 1
    docs = [
        {"_id": event.event_id, "position": first + offset, "doc": orjson.dumps(event.to_dict()).decode()}
        for offset, event in enumerate(fresh)
    ]
    await outbox.insert_many(docs, session=session)


async def staged(database: MongoDatabase, limit: int) -> list[AuditEvent]:
    """The oldest ``limit`` events not yet chained, in commit order; a document that cannot be read is
    left where it is and reported, so that it cannot stop every other event from reaching the chain."""
    if limit == 0:
        return []

    async def read() -> list[dict[str, Any]]:
        cursor = database.collection(OUTBOX).find({}).sort([("position", ASCENDING)])
        return await cursor.limit(max(limit, 0)).to_list(None)

    events: list[AuditEvent] = []
    for found in await database.run(read):
        try:
            events.append(AuditEvent.from_dict(orjson.loads(found["doc"])))
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "audit outbox document %s cannot be read (%s); it stays in the outbox", found["_id"], exc
            )
    return events


async def unstage(database: MongoDatabase, session: Any, event_ids: Sequence[str]) -> None:
    """Remove events that are in the chain now (inside ``session``'s transaction)."""
    if event_ids:
        await database.collection(OUTBOX).delete_many({"_id": {"$in": list(event_ids)}}, session=session)
