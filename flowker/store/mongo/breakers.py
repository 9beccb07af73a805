"""The circuit breaker state of each executor configuration (``breaker_states``, ``_id`` its id)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

import flowker.store.mongo.outbox as outbox
from flowker.domain.audit import AuditEvent
from flowker.domain.breaker_state import BreakerRecord
from flowker.store.mongo.database import MongoDatabase
from flowker.store.mongo.schema import BREAKERS


class MongoBreakerStates:
    def __init__(self, database: MongoDatabase) -> None:
        self._database = database
        self._states = database.collection(BREAKERS)

    async def get(self, config_id: str) -> BreakerRecord | None:
        found = await self._database.run(lambda: self._states.find_one({"_id": config_id}))
        return BreakerRecord.from_dict(orjson.loads(found["doc"])) if found else None

    async def put(self, config_id: str, record: BreakerRecord, events: Sequence[AuditEvent] = ()) -> None:
        state = {"updatedAt": record.updated_at, "doc": orjson.dumps(record.to_dict()).decode()}

        async def write(session: Any) -> None:
            await self._states.update_one({"_id": config_id}, {"$set": state}, upsert=True, session=session)
            await outbox.stage(self._database, session, events)

        await self._database.transaction(write)
