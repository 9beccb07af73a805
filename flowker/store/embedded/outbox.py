"""The audit outbox: events written in the same transaction as the change they describe.

A change and its audit event are committed together or not at all; the audit writer moves events from
here into the hash chain (and deletes them here) in one transaction of its own, so that a crash between
the two steps loses neither the change nor its event.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence

import orjson

from flowker.domain.audit import AuditEvent

log = logging.getLogger("flowker.audit")


#: An event as the outbox stores it: its id and its encoded document.
Row = tuple[str, bytes]


def rows(events: Sequence[AuditEvent]) -> list[Row]:
    """``events`` encoded for :func:`stage_rows`: done before the transaction, not while it holds the lock."""
    return [(event.event_id, orjson.dumps(event.to_dict())) for event in events]


def stage_rows(conn: sqlite3.Connection, encoded: Sequence[Row]) -> None:
    """Add encoded events to the outbox inside the caller's transaction (one staged twice is kept once)."""
    if encoded:
        conn.executemany("INSERT OR IGNORE INTO audit_outbox (event_id, doc) VALUES (?, ?)", encoded)


def stage(conn: sqlite3.Connection, events: Sequence[AuditEvent]) -> None:
    """Add ``events`` to the outbox inside the caller's transaction (an event staged twice is kept once)."""
    stage_rows(conn, rows(events))


def staged(conn: sqlite3.Connection, limit: int) -> list[AuditEvent]:
    """The oldest ``limit`` events not yet chained, in the order their changes were committed.

    A row that cannot be read (never written by Flowker) is left where it is and reported, so that it
    cannot stop every other event from reaching the chain.
    """
    rows = conn.execute(
        "SELECT event_id, doc FROM audit_outbox ORDER BY position LIMIT ?", (limit,)
    ).fetchall()
    events: list[AuditEvent] = []
    for event_id, doc in rows:
        try:
            events.append(AuditEvent.from_dict(orjson.loads(doc)))
        except (ValueError, KeyError, TypeError) as exc:
            log.error("audit outbox row %s cannot be read (%s); it stays in the outbox", event_id, exc)
    return events


def unstage(conn: sqlite3.Connection, event_ids: Sequence[str]) -> None:
    """Remove events that are in the chain now."""
    conn.executemany("DELETE FROM audit_outbox WHERE event_id = ?", [(i,) for i in event_ids])
