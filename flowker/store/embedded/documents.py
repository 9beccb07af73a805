"""A table of JSON documents with an id, a unique name, a status, timestamps and a revision.

Workflows and executor configurations are both stored this way; the repositories add what differs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from flowker.errors import Conflict, StateChanged
from flowker.store.embedded.database import Database
from flowker.store.ports import ListQuery, Page

M = TypeVar("M", bound=BaseModel)

_COLUMNS = {"createdAt": "created_at", "updatedAt": "updated_at", "name": "name"}


class DocumentTable(Generic[M]):
    """CRUD with check-and-set on ``revision`` for one table of documents of model ``M``."""

    def __init__(
        self,
        db: Database,
        table: str,
        model: type[M],
        label: str,
        duplicate_code: str,
        extra_columns: Mapping[str, str] | None = None,
    ) -> None:
        """``extra_columns``: column -> model attribute, written with every insert and update."""
        self.db = db
        self.table = table
        self.model = model
        self.label = label
        self.duplicate_code = duplicate_code
        self.extra = dict(extra_columns or {})

    def load(self, row: tuple[Any, ...]) -> M:
        """A model from a ``(doc, revision)`` row."""
        doc = orjson.loads(row[0])
        doc["revision"] = row[1]
        return self.model.model_validate(doc)

    def _values(self, item: Any) -> tuple[Any, ...]:
        return (
            item.name,
            item.status,
            item.createdAt,
            item.updatedAt,
            orjson.dumps(item.model_dump(mode="json", exclude_none=True)),
            *(getattr(item, attribute) for attribute in self.extra.values()),
        )

    def _extra_names(self) -> str:
        return "".join(f", {column}" for column in self.extra)

    def insert(self, conn: sqlite3.Connection, item: M) -> M:
        """Insert ``item`` at revision 1."""
        try:
            conn.execute(
                f"INSERT INTO {self.table} (id, name, status, created_at, updated_at, doc"
                f"{self._extra_names()}, revision) VALUES (?, ?, ?, ?, ?, ?{', ?' * len(self.extra)}, 1)",
                (item.id, *self._values(item)),  # type: ignore[attr-defined]
            )
        except sqlite3.IntegrityError as exc:
            raise self._integrity(exc, item) from None
        return item.model_copy(update={"revision": 1})

    def update(self, conn: sqlite3.Connection, item: M) -> M:
        """Write ``item`` if its revision is still the stored one."""
        revision: int = item.revision  # type: ignore[attr-defined]
        try:
            cursor = conn.execute(
                f"UPDATE {self.table} SET name = ?, status = ?, created_at = ?, updated_at = ?, doc = ?,"
                + "".join(f" {column} = ?," for column in self.extra)
                + " revision = revision + 1 WHERE id = ? AND revision = ?",
                (*self._values(item), item.id, revision),  # type: ignore[attr-defined]
            )
        except sqlite3.IntegrityError as exc:
            raise self._integrity(exc, item) from None
        if cursor.rowcount != 1:
            raise StateChanged(f"{self.label} {item.id}")  # type: ignore[attr-defined]
        return item.model_copy(update={"revision": revision + 1})

    def remove(self, conn: sqlite3.Connection, item: M) -> None:
        """Delete ``item`` if its revision is still the stored one."""
        cursor = conn.execute(
            f"DELETE FROM {self.table} WHERE id = ? AND revision = ?",
            (item.id, item.revision),  # type: ignore[attr-defined]
        )
        if cursor.rowcount != 1:
            raise StateChanged(f"{self.label} {item.id}")  # type: ignore[attr-defined]

    def _integrity(self, exc: sqlite3.IntegrityError, item: Any) -> Exception:
        if "name" in str(exc):
            return Conflict(f"a {self.label} named {item.name!r} already exists", code=self.duplicate_code)
        return Conflict(f"{self.label} {item.id} already exists", code=self.duplicate_code)

    async def get(self, item_id: str) -> M | None:
        def read(conn: sqlite3.Connection) -> M | None:
            row = conn.execute(f"SELECT doc, revision FROM {self.table} WHERE id = ?", (item_id,)).fetchone()
            return self.load(row) if row else None

        return await self.db.read(read)

    async def list(self, query: ListQuery, filters: Mapping[str, Any] | None = None) -> Page[M]:
        """One page; ``filters``: column -> the value it must have (``None`` values are no filter)."""
        column = _COLUMNS[query.sort_by]
        descending = query.sort_order == "DESC"
        where: list[str] = []
        params: list[Any] = []
        if query.status:
            where.append("status = ?")
            params.append(query.status)
        for name, value in (filters or {}).items():
            if value is not None:
                where.append(f"{name} = ?")
                params.append(value)
        if query.after:
            where.append(f"({column}, id) {'<' if descending else '>'} (?, ?)")
            params.extend(query.after)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        direction = "DESC" if descending else "ASC"
        sql = (
            f"SELECT doc, revision FROM {self.table} {clause} "
            f"ORDER BY {column} {direction}, id {direction} LIMIT ?"
        )
        params.append(query.limit + 1)

        def read(conn: sqlite3.Connection) -> Page[M]:
            rows = conn.execute(sql, params).fetchall()
            return Page([self.load(r) for r in rows[: query.limit]], has_more=len(rows) > query.limit)

        return await self.db.read(read)
