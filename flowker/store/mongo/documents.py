"""A collection of JSON documents with an id, a unique name, a status, timestamps and a revision.

Workflows and executor configurations are both stored this way; the repositories add what differs.
``_id`` is the entity's id; ``doc`` its JSON; ``revision`` the check-and-set counter, written only by
conditional updates (``{_id, revision}`` in the filter), never by read-then-write.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel
from pymongo import ASCENDING, DESCENDING
from pymongo.errors import PyMongoError

from flowker.errors import Conflict, StateChanged
from flowker.store.mongo.database import MongoDatabase, duplicate_key
from flowker.store.ports import ListQuery, Page

M = TypeVar("M", bound=BaseModel)


def keyset(field: str, descending: bool, after: tuple[Any, str] | None) -> dict[str, Any]:
    """The filter of the page after ``(value, id)`` in ``(field, _id)`` order (SQL's row comparison)."""
    if after is None:
        return {}
    op = "$lt" if descending else "$gt"
    value, last_id = after
    return {"$or": [{field: {op: value}}, {field: value, "_id": {op: last_id}}]}


def order(field: str, descending: bool) -> list[tuple[str, int]]:
    direction = DESCENDING if descending else ASCENDING
    return [(field, direction), ("_id", direction)]


class DocumentCollection(Generic[M]):
    """CRUD with check-and-set on ``revision`` for one collection of documents of model ``M``."""

    def __init__(
        self, database: MongoDatabase, name: str, model: type[M], label: str, duplicate_code: str
    ) -> None:
        self.database = database
        self.collection = database.collection(name)
        self.model = model
        self.label = label
        self.duplicate_code = duplicate_code

    def load(self, found: dict[str, Any]) -> M:
        doc = orjson.loads(found["doc"])
        doc["revision"] = found["revision"]
        return self.model.model_validate(doc)

    def fields(self, item: Any, **extra: Any) -> dict[str, Any]:
        return {
            "name": item.name,
            "status": str(item.status),  # a StrEnum: its value
            "createdAt": item.createdAt,
            "updatedAt": item.updatedAt,
            "doc": orjson.dumps(item.model_dump(mode="json", exclude_none=True)).decode(),
            **extra,
        }

    async def insert(self, session: Any, item: M, **extra: Any) -> M:
        """Insert ``item`` at revision 1 (:class:`Conflict` when its name or id is taken)."""
        try:
            await self.collection.insert_one(
                {"_id": item.id, **self.fields(item, **extra), "revision": 1},  # type: ignore[attr-defined]
                session=session,
            )
        except PyMongoError as exc:
            raise self._duplicate(exc, item) from None
        return item.model_copy(update={"revision": 1})

    async def update(self, session: Any, item: M, **extra: Any) -> M:
        """Write ``item`` if its revision is still the stored one."""
        revision: int = item.revision  # type: ignore[attr-defined]
        try:
            result = await self.collection.update_one(
                {"_id": item.id, "revision": revision},  # type: ignore[attr-defined]
                {"$set": self.fields(item, **extra), "$inc": {"revision": 1}},
                session=session,
            )
        except PyMongoError as exc:
            raise self._duplicate(exc, item) from None
        if result.matched_count != 1:
            raise StateChanged(f"{self.label} {item.id}")  # type: ignore[attr-defined]
        return item.model_copy(update={"revision": revision + 1})

    async def remove(self, session: Any, item: M) -> None:
        """Delete ``item`` if its revision is still the stored one."""
        result = await self.collection.delete_one(
            {"_id": item.id, "revision": item.revision},  # type: ignore[attr-defined]
            session=session,
        )
        if result.deleted_count != 1:
            raise StateChanged(f"{self.label} {item.id}")  # type: ignore[attr-defined]

    def _duplicate(self, exc: PyMongoError, item: Any) -> Exception:
        pattern = duplicate_key(exc)
        if pattern is None:
            return exc
        if "name" in pattern:
            return Conflict(f"a {self.label} named {item.name!r} already exists", code=self.duplicate_code)
        return Conflict(f"{self.label} {item.id} already exists", code=self.duplicate_code)

    async def get(self, item_id: str) -> M | None:
        found = await self.database.run(lambda: self.collection.find_one({"_id": item_id}))
        return self.load(found) if found else None

    async def list(self, query: ListQuery, filters: dict[str, Any] | None = None) -> Page[M]:
        """One page; ``filters``: field -> the value it must have (``None`` values are no filter)."""
        descending = query.sort_order == "DESC"
        where: dict[str, Any] = {k: v for k, v in (filters or {}).items() if v is not None}
        if query.status:
            where["status"] = query.status
        where.update(keyset(query.sort_by, descending, query.after))

        async def read() -> list[dict[str, Any]]:
            cursor = self.collection.find(where).sort(order(query.sort_by, descending))
            return await cursor.limit(query.limit + 1).to_list(None)

        found = await self.database.run(read)
        return Page([self.load(f) for f in found[: query.limit]], has_more=len(found) > query.limit)


async def count_by(
    collection: Any, database: MongoDatabase, match: dict[str, Any], index: str
) -> dict[str, int]:
    """Documents matching ``match`` counted by ``status`` in one aggregation, hinted to ``index`` (which
    holds every field involved, so the server reads the index alone)."""
    pipeline: list[dict[str, Any]] = [{"$match": match}] if match else []
    pipeline.append({"$group": {"_id": "$status", "count": {"$sum": 1}}})

    async def read() -> list[dict[str, Any]]:
        cursor = await collection.aggregate(pipeline, hint=index)
        return await cursor.to_list(None)  # type: ignore[no-any-return]

    return {group["_id"]: int(group["count"]) for group in await database.run(read)}
