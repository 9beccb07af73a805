"""The circuit breaker state of each executor configuration, one row each (``breaker_states``)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import orjson

import flowker.store.embedded.outbox as outbox
from flowker.domain.audit import AuditEvent
from flowker.domain.breaker_state import BreakerRecord
from flowker.store.embedded.database import Database


class EmbeddedBreakerStates:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, config_id: str) -> BreakerRecord | None:
        def read(conn: sqlite3.Connection) -> BreakerRecord | None:
            row = conn.execute(
                "SELECT doc FROM breaker_states WHERE executor_config_id = ?", (config_id,)
            ).fetchone()
            return BreakerRecord.from_dict(orjson.loads(row[0])) if row else None

        return await self._db.read(read)

    async def put(self, config_id: str, record: BreakerRecord, events: Sequence[AuditEvent] = ()) -> None:
        doc = orjson.dumps(record.to_dict())

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO breaker_states (executor_config_id, updated_at, doc) VALUES (?, ?, ?)"
                " ON CONFLICT (executor_config_id) DO UPDATE SET updated_at = excluded.updated_at,"
                " doc = excluded.doc",
                (config_id, record.updated_at, doc),
            )
            outbox.stage(conn, events)

        await self._db.write(write)
