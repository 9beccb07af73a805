"""The audit log: an append-only table whose ``sequence`` primary key makes a fork impossible.

Two writers that both think they append sequence N cannot both succeed; the loser reloads the head.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

import flowker.store.embedded.outbox as outbox
from flowker.domain.audit import AuditEvent
from flowker.domain.merkle import NodeId
from flowker.errors import StateChanged
from flowker.store.embedded.database import Database
from flowker.store.ports import AuditQuery, Page, StoredRecord

_FILTERS = {
    "event_type": "event_type = ?",
    "action": "action = ?",
    "result": "result = ?",
    "resource_type": "resource_type = ?",
    "resource_id": "resource_id = ?",
    "date_from": "created_at >= ?",
    "date_to": "created_at <= ?",
}

#: The columns searches use, and the record fields they are copies of.
_SEARCHED = {
    "sequence": "sequence",
    "event_id": "eventId",
    "event_type": "eventType",
    "action": "action",
    "result": "result",
    "resource_type": "resourceType",
    "resource_id": "resourceId",
    "created_at": "timestamp",
}


class EmbeddedAuditLog:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def head(self) -> tuple[int, str | None]:
        """The last sequence number and hash (``(0, None)`` for an empty log)."""

        def read(conn: sqlite3.Connection) -> tuple[int, str | None]:
            row = conn.execute("SELECT doc FROM audit_events ORDER BY sequence DESC LIMIT 1").fetchone()
            if row is None:
                return 0, None
            record = orjson.loads(row[0])
            return record["sequence"], record["hash"]

        return await self._db.read(read)

    async def staged(self, limit: int) -> list[AuditEvent]:
        """The oldest events of the outbox (committed with their changes, not chained yet)."""
        return await self._db.read(lambda conn: outbox.staged(conn, limit))

    async def append(
        self,
        records: Sequence[dict[str, Any]],
        unstage: Sequence[str] = (),
        nodes: Sequence[tuple[NodeId, bytes]] = (),
    ) -> None:
        """Insert sealed records and their Merkle tree nodes, and remove ``unstage`` from the outbox, in
        one transaction.

        :class:`StateChanged` if any sequence or tree node is taken (nothing is written then).
        """

        # Encoded before the transaction: the database lock is the machine's one write lock.
        rows = [
            (
                r["sequence"],
                r["eventId"],
                r["eventType"],
                r["action"],
                r["result"],
                r["resourceType"],
                r["resourceId"],
                r["timestamp"],
                orjson.dumps(r),
            )
            for r in records
        ]
        node_rows = [(node.level, node.index, digest) for node, digest in nodes]

        def write(conn: sqlite3.Connection) -> None:
            outbox.unstage(conn, unstage)
            try:
                conn.executemany(
                    "INSERT INTO audit_events (sequence, event_id, event_type, action, result, resource_type,"
                    " resource_id, created_at, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.executemany("INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)", node_rows)
            except sqlite3.IntegrityError:
                raise StateChanged("the audit log (another writer appended first)") from None

        await self._db.write(write)

    async def tree_size(self) -> int:
        """The leaves of the Merkle tree: the last leaf's index plus one (a primary key lookup)."""
        row = await self._db.read(
            lambda conn: conn.execute("SELECT MAX(idx) FROM merkle_nodes WHERE level = 0").fetchone()
        )
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    async def tree_nodes(self, ids: Sequence[NodeId]) -> list[bytes]:
        """The hashes of ``ids`` (one query); ``KeyError`` naming the first missing one."""
        if not ids:
            return []

        def read(conn: sqlite3.Connection) -> dict[tuple[int, int], bytes]:
            found: dict[tuple[int, int], bytes] = {}
            for start in range(0, len(ids), 400):  # well under SQLite's bound on parameters
                chunk = ids[start : start + 400]
                where = " OR ".join("(level = ? AND idx = ?)" for _ in chunk)
                params = [value for node in chunk for value in (node.level, node.index)]
                rows = conn.execute(f"SELECT level, idx, hash FROM merkle_nodes WHERE {where}", params)
                found.update({(level, idx): bytes(digest) for level, idx, digest in rows})
            return found

        found = await self._db.read(read)
        return [found[(node.level, node.index)] for node in ids]

    async def entry_hashes(self, after: int, limit: int) -> list[tuple[int, str]]:
        """``(sequence, hash)`` of up to ``limit`` events after ``after``, in order."""

        def read(conn: sqlite3.Connection) -> list[tuple[int, str]]:
            rows = conn.execute(
                "SELECT sequence, doc FROM audit_events WHERE sequence > ? ORDER BY sequence LIMIT ?",
                (after, limit),
            ).fetchall()
            return [(sequence, orjson.loads(doc)["hash"]) for sequence, doc in rows]

        return await self._db.read(read)

    async def sequences_of(self, event_ids: Sequence[str]) -> dict[str, int]:
        """The sequence numbers of those of ``event_ids`` that are already stored."""
        if not event_ids:
            return {}
        marks = ",".join("?" * len(event_ids))
        rows = await self._db.read(
            lambda conn: conn.execute(
                f"SELECT event_id, sequence FROM audit_events WHERE event_id IN ({marks})", tuple(event_ids)
            ).fetchall()
        )
        return dict(rows)

    async def get(self, event_id: str) -> dict[str, Any] | None:
        row = await self._db.read(
            lambda conn: conn.execute(
                "SELECT doc FROM audit_events WHERE event_id = ?", (event_id,)
            ).fetchone()
        )
        return orjson.loads(row[0]) if row else None

    async def up_to(self, sequence: int) -> list[dict[str, Any]]:
        """Every record from the first to ``sequence``, in order (what verification reads)."""
        rows = await self._db.read(
            lambda conn: conn.execute(
                "SELECT doc FROM audit_events WHERE sequence <= ? ORDER BY sequence", (sequence,)
            ).fetchall()
        )
        return [orjson.loads(row[0]) for row in rows]

    async def records(self, after: int, limit: int) -> list[StoredRecord]:
        """Records after sequence ``after`` with their searched columns (``sequence``, ``event_id``,
        ``event_type``, ``action``, ``result``, ``resource_type``, ``resource_id``, ``created_at``)."""

        def read(conn: sqlite3.Connection) -> list[StoredRecord]:
            rows = conn.execute(
                f"SELECT {', '.join(_SEARCHED)}, doc FROM audit_events WHERE sequence > ?"
                " ORDER BY sequence LIMIT ?",
                (after, limit),
            ).fetchall()
            return [
                StoredRecord(
                    row[0], orjson.loads(row[-1]), dict(zip(_SEARCHED.values(), row[:-1], strict=True))
                )
                for row in rows
            ]

        return await self._db.read(read)

    async def list(self, query: AuditQuery) -> Page[dict[str, Any]]:
        where: list[str] = []
        params: list[Any] = []
        for name, clause in _FILTERS.items():
            value = getattr(query, name)
            if value:
                where.append(clause)
                params.append(value)
        descending = query.sort_order == "DESC"
        if query.after is not None:
            where.append("sequence < ?" if descending else "sequence > ?")
            params.append(query.after)
        sql = (
            f"SELECT doc FROM audit_events {'WHERE ' + ' AND '.join(where) if where else ''}"
            f" ORDER BY sequence {'DESC' if descending else 'ASC'} LIMIT ?"
        )
        params.append(query.limit + 1)

        def read(conn: sqlite3.Connection) -> Page[dict[str, Any]]:
            rows = conn.execute(sql, params).fetchall()
            return Page([orjson.loads(r[0]) for r in rows[: query.limit]], has_more=len(rows) > query.limit)

        return await self._db.read(read)
