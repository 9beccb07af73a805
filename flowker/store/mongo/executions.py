"""Executions (``workflow_executions``) and their step records (``execution_steps``).

A step record is unique per (execution, step number): recording a step twice is refused by the index,
so a step can never be applied twice, even by two processes. The cancel flag, the lease and the attempt
counter are fields of their own, changed only by conditional updates; the workflow snapshot is written
once, at the start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import PyMongoError

import flowker.store.mongo.outbox as outbox
from flowker.domain.audit import AuditEvent
from flowker.domain.execution import Execution
from flowker.dsl.run_state import StepRecord
from flowker.errors import StateChanged, WorkflowChanged
from flowker.store.mongo.database import MongoDatabase, duplicate_key
from flowker.store.mongo.documents import count_by, keyset, order
from flowker.store.mongo.schema import EXECUTIONS, STEPS, WORKFLOWS
from flowker.store.ports import ExecutionQuery, Page, StartLease

_UNFINISHED = {"$in": ["pending", "running"]}


def _load(found: dict[str, Any]) -> Execution:
    doc = orjson.loads(found["doc"])
    doc["revision"] = found["revision"]
    doc["cancelRequested"] = bool(found.get("cancelRequested"))
    doc["workflow"] = orjson.loads(found["workflow"])
    doc["attempts"] = found.get("attempts", 0)
    if found.get("cancelRequestedBy") is not None:
        doc["cancelRequestedBy"] = orjson.loads(found["cancelRequestedBy"])
    return Execution.model_validate(doc)


def _dump(execution: Execution) -> str:
    # The cancel flag lives in its own field (setting it must not race the runner's writes), the
    # workflow snapshot too (written once at the start, not again with every step).
    return orjson.dumps(
        execution.model_dump(
            mode="json", exclude_none=True, exclude={"cancelRequested", "cancelRequestedBy", "workflow"}
        )
    ).decode()


class _KeyTaken(Exception):
    """Inside a start's transaction: its id or idempotency key was taken meanwhile."""


class MongoExecutions:
    def __init__(self, database: MongoDatabase) -> None:
        self._database = database
        self._executions = database.collection(EXECUTIONS)
        self._steps = database.collection(STEPS)
        self._workflows = database.collection(WORKFLOWS)

    async def create_or_get(
        self, execution: Execution, workflow_revision: int | None = None, lease: StartLease | None = None
    ) -> tuple[Execution, bool]:
        """Insert (keyed by id and idempotency key), or return the execution holding the key.

        A retried insert after a lost answer is safe: if the first one was applied, the retry finds the
        key (or the id) taken, and nothing is inserted twice.
        """
        doc = {
            "_id": execution.id,
            "workflowId": execution.workflowId,
            "status": execution.status.value,
            "idempotencyKey": execution.idempotencyKey,
            "startedAt": execution.startedAt,
            "completedAt": None,
            "cancelRequested": False,
            "cancelRequestedBy": None,
            "leaseOwner": lease.owner if lease else None,
            "leaseExpires": lease.expires if lease else None,
            "attempts": 1 if lease else 0,
            "revision": 1,
            "doc": _dump(execution),
            "workflow": orjson.dumps(execution.workflow.model_dump(mode="json", exclude_none=True)).decode(),
        }

        async def insert() -> tuple[Execution, bool]:
            try:
                await self._executions.insert_one(doc)
            except PyMongoError as exc:
                if duplicate_key(exc) is None:
                    raise
                found = await self._executions.find_one({"idempotencyKey": execution.idempotencyKey})
                if found is None:  # the id, not the key, is taken
                    raise StateChanged(f"execution {execution.id}") from None
                return _load(found), False
            return execution.model_copy(update={"revision": 1, "attempts": doc["attempts"]}), True

        if workflow_revision is None:
            return await self._database.run(insert)

        async def insert_if_current(session: Any) -> tuple[Execution, bool]:
            # In one transaction: a deactivation committed meanwhile makes this one conflict and retry.
            holder = await self._executions.find_one(
                {"idempotencyKey": execution.idempotencyKey}, session=session
            )
            if holder is not None:
                return _load(holder), False
            current = await self._workflows.find_one(
                {"_id": execution.workflowId, "revision": workflow_revision, "status": "active"},
                {"_id": 1},
                session=session,
            )
            if current is None:
                raise WorkflowChanged(execution.workflowId)
            try:
                await self._executions.insert_one(doc, session=session)
            except PyMongoError as exc:
                if duplicate_key(exc) is None:
                    raise
                raise _KeyTaken from None  # by a start that raced this one: read outside the transaction
            return execution.model_copy(update={"revision": 1, "attempts": doc["attempts"]}), True

        try:
            return await self._database.transaction(insert_if_current)
        except _KeyTaken:
            return await self._database.run(insert)

    async def get(self, execution_id: str) -> Execution | None:
        found = await self._database.run(lambda: self._executions.find_one({"_id": execution_id}))
        return _load(found) if found else None

    async def find_by_key(self, idempotency_key: str) -> Execution | None:
        found = await self._database.run(
            lambda: self._executions.find_one({"idempotencyKey": idempotency_key})
        )
        return _load(found) if found else None

    async def list(self, query: ExecutionQuery) -> Page[Execution]:
        descending = query.sort_order == "DESC"
        conditions: list[dict[str, Any]] = []
        if query.workflow_id:
            conditions.append({"workflowId": query.workflow_id})
        if query.status:
            conditions.append({"status": query.status})
        if query.sort_by == "completedAt":
            conditions.append({"completedAt": {"$ne": None}})
        if query.after:
            conditions.append(keyset(query.sort_by, descending, query.after))
        where = {"$and": conditions} if conditions else {}

        async def read() -> list[dict[str, Any]]:
            cursor = self._executions.find(where).sort(order(query.sort_by, descending))
            return await cursor.limit(query.limit + 1).to_list(None)

        found = await self._database.run(read)
        return Page([_load(f) for f in found[: query.limit]], has_more=len(found) > query.limit)

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

        async def write(session: Any) -> Execution:
            for record in steps:
                try:
                    await self._steps.insert_one(
                        {
                            "executionId": execution.id,
                            "stepNumber": record.step_number,
                            "doc": orjson.dumps(record.to_dict()).decode(),
                        },
                        session=session,
                    )
                except PyMongoError as exc:
                    if duplicate_key(exc) is None:
                        raise
                    raise StateChanged(f"execution {execution.id} (a step was already recorded)") from None
            where: dict[str, Any] = {"_id": execution.id, "revision": execution.revision}
            if lease_owner is not None:  # the fence of a runner's write: its lease, unexpired
                where.update({"leaseOwner": lease_owner, "leaseExpires": {"$gt": now}})
            changes: dict[str, Any] = {
                "status": execution.status.value,
                "completedAt": execution.completedAt,
                "doc": _dump(execution),
            }
            if execution.is_terminal:  # an execution that has ended holds no lease any more
                changes["leaseOwner"] = None
            result = await self._executions.update_one(
                where, {"$set": changes, "$inc": {"revision": 1}}, session=session
            )
            if result.matched_count != 1:
                raise StateChanged(f"execution {execution.id}")
            await outbox.stage(self._database, session, events)
            return execution.model_copy(update={"revision": execution.revision + 1})

        return await self._database.transaction(write)

    async def steps(self, execution_id: str) -> list[StepRecord]:
        async def read() -> list[dict[str, Any]]:
            cursor = self._steps.find({"executionId": execution_id}).sort([("stepNumber", ASCENDING)])
            return await cursor.to_list(None)

        return [StepRecord.from_dict(orjson.loads(found["doc"])) for found in await self._database.run(read)]

    async def request_cancel(
        self, execution_id: str, requested_by: dict[str, str], events: Sequence[AuditEvent] = ()
    ) -> bool:
        """Raise the cancel flag of an unfinished execution and stage ``events``; ``False`` (nothing
        written) when it has ended meanwhile or is already flagged."""

        async def write(session: Any) -> bool:
            result = await self._executions.update_one(
                {"_id": execution_id, "cancelRequested": False, "status": _UNFINISHED},
                {"$set": {"cancelRequested": True, "cancelRequestedBy": orjson.dumps(requested_by).decode()}},
                session=session,
            )
            if result.matched_count != 1:
                return False
            await outbox.stage(self._database, session, events)
            return True

        return await self._database.transaction(write)

    async def claim(self, execution_id: str, owner: str, expires: float, now: float) -> Execution | None:
        """Take the lease of an unfinished execution if it is free, expired, or already ``owner``'s;
        count an attempt and move the revision on (fencing out an earlier runner). The execution as
        claimed (one round trip: the update returns the document), or ``None``."""
        found = await self._database.run(
            lambda: self._executions.find_one_and_update(
                {
                    "_id": execution_id,
                    "status": _UNFINISHED,
                    "$or": [{"leaseOwner": None}, {"leaseOwner": owner}, {"leaseExpires": {"$lt": now}}],
                },
                {
                    "$set": {"leaseOwner": owner, "leaseExpires": expires},
                    "$inc": {"attempts": 1, "revision": 1},
                },
                return_document=ReturnDocument.AFTER,
            )
        )
        return _load(found) if found else None

    async def renew(self, owner: str, execution_ids: Sequence[str], expires: float) -> set[str]:
        """Extend ``owner``'s leases; return the ids whose lease it no longer holds."""
        if not execution_ids:
            return set()
        mine = {"leaseOwner": owner, "_id": {"$in": list(execution_ids)}}

        async def write() -> list[dict[str, Any]]:
            await self._executions.update_many(mine, {"$set": {"leaseExpires": expires}})
            return await self._executions.find(mine, {"_id": 1}).to_list(None)

        held = await self._database.run(write)
        return set(execution_ids) - {found["_id"] for found in held}

    async def cancel_requested(self, execution_ids: Sequence[str]) -> set[str]:
        if not execution_ids:
            return set()

        async def read() -> list[dict[str, Any]]:
            where = {"cancelRequested": True, "_id": {"$in": list(execution_ids)}}
            return await self._executions.find(where, {"_id": 1}).to_list(None)

        return {found["_id"] for found in await self._database.run(read)}

    async def orphans(self, owner: str, now: float, limit: int, unclaimed_before: str) -> list[str]:
        """Unfinished executions nobody runs: a lease ``owner`` held before, an expired one, or none
        although the execution started before ``unclaimed_before``."""
        if limit == 0:
            return []
        where = {
            "status": _UNFINISHED,
            "$or": [
                {"leaseOwner": owner},
                {"leaseExpires": {"$lt": now}},
                {"leaseOwner": None, "startedAt": {"$lt": unclaimed_before}},
            ],
        }

        async def read() -> list[dict[str, Any]]:
            cursor = self._executions.find(where, {"_id": 1}).sort(
                [("startedAt", ASCENDING), ("_id", ASCENDING)]
            )
            return await cursor.limit(max(limit, 0)).to_list(None)

        return [found["_id"] for found in await self._database.run(read)]

    async def count_by_status(
        self, started_from: str | None = None, started_to: str | None = None, status: str | None = None
    ) -> dict[str, int]:
        """One ``$group`` on ``status``, hinted to ``status_started`` when a status is given, else to
        ``started_status``: a covered index scan either way."""
        match: dict[str, Any] = {}
        window: dict[str, str] = {}
        if started_from is not None:
            window["$gte"] = started_from
        if started_to is not None:
            window["$lte"] = started_to
        if window:
            match["startedAt"] = window
        if status is not None:
            match["status"] = status
        index = "status_started" if status is not None else "started_status"
        return await count_by(self._executions, self._database, match, index)
