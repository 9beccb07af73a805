"""Executions and their step records.

A step record is keyed by (execution, step number): recording a step twice is refused by the
table itself, so a step can never be applied twice to an execution, even by two processes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson

import flowker.store.embedded.outbox as outbox
from flowker.domain.audit import AuditEvent
from flowker.domain.execution import Execution
from flowker.dsl.run_state import StepRecord
from flowker.errors import StateChanged, WorkflowChanged
from flowker.store.embedded.database import Database
from flowker.store.ports import ExecutionQuery, Page, StartLease

_COLUMNS = {"startedAt": "started_at", "completedAt": "completed_at"}


_SELECT = "SELECT doc, revision, cancel_requested, workflow, attempts, cancel_requested_by FROM executions"
#: Whether a workflow is active at the revision a start was made from (cached in the front door).
_ACTIVE_AT = "SELECT 1 FROM workflows WHERE id = ? AND revision = ? AND status = 'active'"
_SAVE = """UPDATE executions SET status = ?, completed_at = ?, doc = ?, revision = revision + 1,
    lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END WHERE id = ? AND revision = ?"""
#: The fence of a runner's write: it still holds the lease, and the lease has not expired.
_FENCE = " AND lease_owner = ? AND lease_expires > ?"
_ORPHANS = """SELECT id FROM executions WHERE status IN ('pending', 'running')
    AND (lease_owner = ? OR lease_expires < ? OR (lease_owner IS NULL AND started_at < ?))
    ORDER BY started_at LIMIT ?"""
_INSERT = """INSERT INTO executions (id, workflow_id, status, idempotency_key, started_at, revision, doc,
    workflow, lease_owner, lease_expires, attempts) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)"""


def _load(row: tuple[Any, ...]) -> Execution:
    doc = orjson.loads(row[0])
    doc["revision"] = row[1]
    doc["cancelRequested"] = bool(row[2])
    doc["workflow"] = orjson.loads(row[3])
    doc["attempts"] = row[4]
    if row[5] is not None:
        doc["cancelRequestedBy"] = orjson.loads(row[5])
    return Execution.model_validate(doc)


def _dump(execution: Execution) -> bytes:
    # The cancel flag lives in its own column: setting it must not race the runner's writes. The
    # workflow snapshot too: written once at the start, not again with every step.
    return orjson.dumps(
        execution.model_dump(
            mode="json", exclude_none=True, exclude={"cancelRequested", "cancelRequestedBy", "workflow"}
        )
    )


class EmbeddedExecutions:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_or_get(
        self, execution: Execution, workflow_revision: int | None = None, lease: StartLease | None = None
    ) -> tuple[Execution, bool]:
        # Encoded before the transaction: the database lock is the machine's one write lock.
        values = (
            execution.id,
            execution.workflowId,
            execution.status.value,
            execution.idempotencyKey,
            execution.startedAt,
            _dump(execution),
            orjson.dumps(execution.workflow.model_dump(mode="json", exclude_none=True)),
            lease.owner if lease else None,
            lease.expires if lease else None,
            1 if lease else 0,
        )
        inserted = execution.model_copy(update={"revision": 1, "attempts": 1 if lease else 0})

        def insert(conn: sqlite3.Connection) -> tuple[Execution, bool]:
            if workflow_revision is not None:
                current = conn.execute(_ACTIVE_AT, (execution.workflowId, workflow_revision)).fetchone()
                if current is None:
                    holder = conn.execute(
                        f"{_SELECT} WHERE idempotency_key = ?", (execution.idempotencyKey,)
                    ).fetchone()
                    if holder is not None:
                        return _load(holder), False
                    raise WorkflowChanged(execution.workflowId)
            try:
                conn.execute(_INSERT, values)
            except sqlite3.IntegrityError:
                row = conn.execute(
                    f"{_SELECT} WHERE idempotency_key = ?", (execution.idempotencyKey,)
                ).fetchone()
                if row is None:  # the id, not the key, is taken
                    raise StateChanged(f"execution {execution.id}") from None
                return _load(row), False
            return inserted, True

        return await self._db.write(insert)

    async def get(self, execution_id: str) -> Execution | None:
        def read(conn: sqlite3.Connection) -> Execution | None:
            row = conn.execute(f"{_SELECT} WHERE id = ?", (execution_id,)).fetchone()
            return _load(row) if row else None

        return await self._db.read(read)

    async def find_by_key(self, idempotency_key: str) -> Execution | None:
        def read(conn: sqlite3.Connection) -> Execution | None:
            row = conn.execute(f"{_SELECT} WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
            return _load(row) if row else None

        return await self._db.read(read)

    async def list(self, query: ExecutionQuery) -> Page[Execution]:
        column = _COLUMNS[query.sort_by]
        descending = query.sort_order == "DESC"
        where: list[str] = []
        params: list[Any] = []
        for name, value in (("workflow_id", query.workflow_id), ("status", query.status)):
            if value:
                where.append(f"{name} = ?")
                params.append(value)
        if query.sort_by == "completedAt":
            where.append("completed_at IS NOT NULL")
        if query.after:
            where.append(f"({column}, id) {'<' if descending else '>'} (?, ?)")
            params.extend(query.after)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        direction = "DESC" if descending else "ASC"
        sql = f"{_SELECT} {clause} ORDER BY {column} {direction}, id {direction} LIMIT ?"
        params.append(query.limit + 1)

        def read(conn: sqlite3.Connection) -> Page[Execution]:
            rows = conn.execute(sql, params).fetchall()
            return Page([_load(r) for r in rows[: query.limit]], has_more=len(rows) > query.limit)

        return await self._db.read(read)

    async def save(
        self,
        execution: Execution,
        steps: Sequence[StepRecord] = (),
        events: Sequence[AuditEvent] = (),
        *,
        lease_owner: str | None = None,
        now: float = 0.0,
    ) -> Execution:
        """Write ``execution`` (check-and-set on its revision), insert ``steps`` and stage ``events``,
        in one transaction. With ``lease_owner``, also only while that owner's lease is unexpired at ``now``.
        """

        # Encoded before the transaction: the database lock is the machine's one write lock.
        step_rows = [(execution.id, s.step_number, orjson.dumps(s.to_dict())) for s in steps]
        # An execution that has ended holds no lease any more.
        params: tuple[Any, ...] = (
            execution.status.value,
            execution.completedAt,
            _dump(execution),
            execution.is_terminal,
            execution.id,
            execution.revision,
        )
        sql = _SAVE
        if lease_owner is not None:
            sql, params = sql + _FENCE, (*params, lease_owner, now)
        staged = outbox.rows(events)
        saved = execution.model_copy(update={"revision": execution.revision + 1})

        def write(conn: sqlite3.Connection) -> Execution:
            try:
                conn.executemany(
                    "INSERT INTO execution_steps (execution_id, step_number, doc) VALUES (?, ?, ?)", step_rows
                )
            except sqlite3.IntegrityError:
                raise StateChanged(f"execution {execution.id} (a step was already recorded)") from None
            if conn.execute(sql, params).rowcount != 1:
                raise StateChanged(f"execution {execution.id}")
            outbox.stage_rows(conn, staged)
            return saved

        return await self._db.write(write)

    async def steps(self, execution_id: str) -> list[StepRecord]:
        def read(conn: sqlite3.Connection) -> list[StepRecord]:
            rows = conn.execute(
                "SELECT doc FROM execution_steps WHERE execution_id = ? ORDER BY step_number", (execution_id,)
            ).fetchall()
            return [StepRecord.from_dict(orjson.loads(row[0])) for row in rows]

        return await self._db.read(read)

    async def request_cancel(
        self, execution_id: str, requested_by: dict[str, str], events: Sequence[AuditEvent] = ()
    ) -> bool:
        """Raise the cancel flag of an unfinished execution (its runner stops before the next step) and
        stage ``events``; ``False`` (nothing written) when it has ended meanwhile or is already flagged.
        """

        def write(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE executions SET cancel_requested = 1, cancel_requested_by = ? WHERE id = ?"
                " AND cancel_requested = 0 AND status IN ('pending', 'running')",
                (orjson.dumps(requested_by), execution_id),
            )
            if cursor.rowcount != 1:
                return False
            outbox.stage(conn, events)
            return True

        return await self._db.write(write)

    async def claim(self, execution_id: str, owner: str, expires: float, now: float) -> Execution | None:
        """Take the lease of an unfinished execution if it is free, expired, or already ``owner``'s;
        the execution as claimed (read in the same transaction), or ``None``.

        A claim counts an attempt and moves the revision on: a runner that held the execution before
        (a supervisor that lost its lease) can no longer write it.
        """

        def write(conn: sqlite3.Connection) -> Execution | None:
            cursor = conn.execute(
                "UPDATE executions SET lease_owner = ?, lease_expires = ?, attempts = attempts + 1,"
                " revision = revision + 1 WHERE id = ? AND status IN ('pending', 'running')"
                " AND (lease_owner IS NULL OR lease_owner = ? OR lease_expires < ?)",
                (owner, expires, execution_id, owner, now),
            )
            if cursor.rowcount != 1:
                return None
            return _load(conn.execute(f"{_SELECT} WHERE id = ?", (execution_id,)).fetchone())

        return await self._db.write(write)

    async def renew(self, owner: str, execution_ids: Sequence[str], expires: float) -> set[str]:
        """Extend ``owner``'s leases; return the ids whose lease it no longer holds."""
        if not execution_ids:
            return set()
        marks = ",".join("?" * len(execution_ids))

        def write(conn: sqlite3.Connection) -> set[str]:
            conn.execute(
                f"UPDATE executions SET lease_expires = ? WHERE lease_owner = ? AND id IN ({marks})",
                (expires, owner, *execution_ids),
            )
            held = conn.execute(
                f"SELECT id FROM executions WHERE lease_owner = ? AND id IN ({marks})",
                (owner, *execution_ids),
            ).fetchall()
            return set(execution_ids) - {row[0] for row in held}

        return await self._db.write(write)

    async def cancel_requested(self, execution_ids: Sequence[str]) -> set[str]:
        """Those of ``execution_ids`` whose cancel flag is raised."""
        if not execution_ids:
            return set()
        marks = ",".join("?" * len(execution_ids))
        rows = await self._db.read(
            lambda conn: conn.execute(
                f"SELECT id FROM executions WHERE cancel_requested = 1 AND id IN ({marks})",
                tuple(execution_ids),
            ).fetchall()
        )
        return {row[0] for row in rows}

    async def count_by_status(
        self, started_from: str | None = None, started_to: str | None = None, status: str | None = None
    ) -> dict[str, int]:
        """One ``GROUP BY`` over a covering index, named so that the planner never scans the table:
        ``executions_status`` (status, started_at) when a status is given, else ``executions_started_status``
        (started_at, status). No execution row is read."""
        where: list[str] = []
        params: list[Any] = []
        for condition, value in (("started_at >= ?", started_from), ("started_at <= ?", started_to)):
            if value is not None:
                where.append(condition)
                params.append(value)
        if status is not None:
            where.append("status = ?")
            params.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        index = "executions_status" if status is not None else "executions_started_status"
        sql = f"SELECT status, COUNT(*) FROM executions INDEXED BY {index} {clause} GROUP BY status"
        rows = await self._db.read(lambda conn: conn.execute(sql, params).fetchall())
        return {row[0]: row[1] for row in rows}

    async def orphans(self, owner: str, now: float, limit: int, unclaimed_before: str) -> list[str]:
        """Unfinished executions nobody runs: a lease ``owner`` held before, an expired one, or none
        although the execution started before ``unclaimed_before`` (a front door died handing it over)."""
        rows = await self._db.read(
            lambda conn: conn.execute(
                _ORPHANS,
                (owner, now, unclaimed_before, limit),
            ).fetchall()
        )
        return [row[0] for row in rows]
