"""A fake of the part of PyMongo's async API (``AsyncMongoClient``) that the MongoDB store uses.

``mongomock`` is the query engine (filters, update operators, sort, skip, limit, projections) beneath an
async façade that adds what mongomock lacks or gets wrong:

- unique indexes (compound, partial) enforced here, raising PyMongo's ``DuplicateKeyError`` with the
  server's ``code`` 11000 and ``details`` (``keyPattern``, ``keyValue``), and ``BulkWriteError`` from
  ``insert_many``;
- sessions and multi-document transactions: a transaction holds the client's lock from its start to its
  commit or abort (so nothing else reads what it has not committed), and its abort restores the snapshot
  taken at its start. An operation without the session inside the transaction's own task is a bug of
  the caller, and fails loudly instead of waiting for ever;
- faults on command (:class:`Faults`): the server down (every command fails with
  ``ServerSelectionTimeoutError``, as the real driver does once it gives up), the next commands failing
  before they are applied, or applied and then failing with ``NetworkTimeout`` (the answer lost). Errors
  raised inside a transaction carry the driver's labels (``TransientTransactionError``, and
  ``UnknownTransactionCommitResult`` for a commit).

The write concerns the adapter asks for are recorded on each collection, for tests to check.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import mongomock
import mongomock.filtering
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import (
    BulkWriteError,
    CollectionInvalid,
    DuplicateKeyError,
    InvalidOperation,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
)
from pymongo.results import DeleteResult, InsertManyResult, InsertOneResult, UpdateResult

_WRITES = frozenset(
    {"insert_one", "insert_many", "update_one", "update_many", "delete_one", "delete_many",
     "find_one_and_update", "commit_transaction"}
)  # fmt: skip


@dataclass
class _Fault:
    remaining: int
    after_apply: bool
    error: Callable[[], PyMongoError]
    match: Callable[[str, str], bool]


@dataclass
class Faults:
    """What the fake server does wrong, set by a test."""

    down: bool = False
    _planned: list[_Fault] = field(default_factory=list)
    #: Every command received, as ``(collection, operation)`` (``("", "commit_transaction")`` for commits).
    log: list[tuple[str, str]] = field(default_factory=list)

    def fail(
        self,
        times: int = 1,
        *,
        after_apply: bool = False,
        error: Callable[[], PyMongoError] | None = None,
        collection: str | None = None,
        operation: str | None = None,
    ) -> None:
        """The next ``times`` matching commands fail: before they are applied, or (``after_apply``) after
        (the write is kept, its answer lost: ``NetworkTimeout`` unless ``error`` says otherwise)."""

        def match(coll: str, op: str) -> bool:
            return (collection is None or coll == collection) and (operation is None or op == operation)

        def timeout() -> PyMongoError:
            return NetworkTimeout("fake: timed out waiting for the server's answer")

        self._planned.append(_Fault(times, after_apply, error or timeout, match))

    def _take(self, coll: str, op: str, after_apply: bool) -> PyMongoError | None:
        # Faults are taken in the order they were planned: the first one that matches the command decides.
        for fault in self._planned:
            if fault.remaining > 0 and fault.match(coll, op) and (op in _WRITES or not fault.after_apply):
                if fault.after_apply != after_apply:
                    return None
                fault.remaining -= 1
                return fault.error()
        return None


class FakeMongoClient:
    """An in-process stand-in for ``AsyncMongoClient``: one server, any number of databases."""

    def __init__(self) -> None:
        self._engine = mongomock.MongoClient()
        self._lock = asyncio.Lock()
        self._owner: FakeSession | None = None
        self._owner_task: asyncio.Task[Any] | None = None
        self._unique: dict[tuple[str, str], list[_UniqueIndex]] = {}
        #: Per collection, per unique index: key -> _id (rebuilt from the documents when None).
        self._keys: dict[tuple[str, str], dict[str, dict[Any, Any]] | None] = {}
        self.faults = Faults()
        self.closed = False

    # -- the client's API
    def get_database(self, name: str, **options: Any) -> FakeDatabase:
        return FakeDatabase(self, name, options)

    def __getitem__(self, name: str) -> FakeDatabase:
        return self.get_database(name)

    def start_session(self, **_options: Any) -> FakeSession:
        return FakeSession(self)

    async def drop_database(self, name: str) -> None:
        await self._call("", "drop_database", None, lambda: self._engine.drop_database(name))
        self._keys.clear()

    async def close(self) -> None:
        self.closed = True

    # -- what every command goes through
    async def _call(self, coll: str, op: str, session: FakeSession | None, apply: Callable[[], Any]) -> Any:
        self.faults.log.append((coll, op))
        await asyncio.sleep(0)  # a command is a round trip: other tasks run meanwhile
        in_transaction = session is not None and session is self._owner
        if self._owner is not None and not in_transaction and asyncio.current_task() is self._owner_task:
            raise AssertionError(f"{coll}.{op} without the session, inside that task's transaction")
        self._raise_if_failing(coll, op, False, in_transaction)
        if in_transaction:
            result = apply()
        else:
            async with self._lock:
                result = apply()
        self._raise_if_failing(coll, op, True, in_transaction)
        return result

    def _raise_if_failing(self, coll: str, op: str, after_apply: bool, in_transaction: bool) -> None:
        error: PyMongoError | None = None
        if self.faults.down and not after_apply:
            error = ServerSelectionTimeoutError("fake: no server is reachable")
        else:
            error = self.faults._take(coll, op, after_apply)
        if error is None:
            return
        if op == "commit_transaction":  # the driver's label: the commit may or may not have been applied
            error._add_error_label("UnknownTransactionCommitResult")
        elif in_transaction:
            error._add_error_label("TransientTransactionError")
        raise error

    def _written(self, documents: dict[Any, Any], doc_id: Any, before: dict[str, Any] | None) -> None:
        """Note a document's state before a write, so that an abort can put it back."""
        if self._owner is not None:
            self._owner._undo.append((documents, doc_id, before))


class FakeSession:
    """A client session; one transaction at a time."""

    def __init__(self, client: FakeMongoClient) -> None:
        self._client = client
        #: (collection's documents, _id, the document before the write or None): replayed backwards on abort.
        self._undo: list[tuple[dict[Any, Any], Any, dict[str, Any] | None]] = []
        self._state = "none"  # none | open (on the server) | committed | aborted
        self.ended = False

    async def __aenter__(self) -> FakeSession:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.end_session()

    async def end_session(self) -> None:
        """Like the server, an open transaction of an ended session is aborted."""
        if self._state == "open":
            self._rollback()
        self.ended = True

    @property
    def in_transaction(self) -> bool:
        return self._state == "open"

    async def start_transaction(self, **_options: Any) -> FakeSession:
        if self._state == "open":
            raise InvalidOperation("Transaction already in progress")
        await self._client._lock.acquire()
        self._client._owner, self._client._owner_task = self, asyncio.current_task()
        self._undo = []
        self._state = "open"
        return self

    async def commit_transaction(self) -> None:
        if self._state == "committed":  # a retried commit of a committed transaction: the server says ok
            await self._client._call("", "commit_transaction", None, lambda: None)
            return
        if self._state != "open":
            raise InvalidOperation("No transaction started")
        await self._client._call("", "commit_transaction", self, self._release)

    async def abort_transaction(self) -> None:
        if self._state == "open":
            self._rollback()
        elif self._state == "committed":
            raise InvalidOperation("Cannot call abortTransaction after calling commitTransaction")
        self._state = "aborted"

    def _release(self) -> None:
        self._state = "committed"
        self._undo = []
        self._client._owner = self._client._owner_task = None
        self._client._lock.release()

    def _rollback(self) -> None:
        for documents, doc_id, before in reversed(self._undo):
            if before is None:
                documents.pop(doc_id, None)
            else:
                documents[doc_id] = before
        self._client._keys.clear()  # rebuilt from the restored documents when next needed
        self._release()
        self._state = "aborted"


class FakeDatabase:
    def __init__(self, client: FakeMongoClient, name: str, options: dict[str, Any]) -> None:
        self.client = client
        self.name = name
        self.options = options
        self._engine = client._engine[name]

    def get_collection(self, name: str, **options: Any) -> FakeCollection:
        return FakeCollection(self, name, {**self.options, **options})

    def __getitem__(self, name: str) -> FakeCollection:
        return self.get_collection(name)

    async def command(self, command: str | dict[str, Any], **_kw: Any) -> dict[str, Any]:
        name = command if isinstance(command, str) else next(iter(command))
        return await self.client._call("", name, None, lambda: {"ok": 1.0})  # type: ignore[no-any-return]

    async def list_collection_names(self, session: FakeSession | None = None) -> list[str]:
        return await self.client._call(
            "", "list_collection_names", session, self._engine.list_collection_names
        )  # type: ignore[no-any-return]

    async def create_collection(
        self, name: str, session: FakeSession | None = None, **_kw: Any
    ) -> FakeCollection:
        def create() -> None:
            if name in self._engine.list_collection_names():
                raise CollectionInvalid(f"collection {name} already exists")
            self._engine.create_collection(name)

        await self.client._call(name, "create_collection", session, create)
        return self.get_collection(name)


@dataclass(frozen=True)
class _UniqueIndex:
    name: str
    keys: tuple[str, ...]
    partial: dict[str, Any] | None

    def key_of(self, doc: dict[str, Any]) -> tuple[Any, ...] | None:
        if self.partial is not None and not mongomock.filtering.filter_applies(self.partial, doc):
            return None
        return tuple(_freeze(_get(doc, key)) for key in self.keys)


def _new_ids(result: Any) -> list[Any]:
    """The id an upsert inserted, from an update's result or ``find_one_and_update``'s document."""
    upserted = getattr(result, "upserted_id", None)
    if upserted is not None:
        return [upserted]
    if isinstance(result, dict) and "_id" in result:
        return [result["_id"]]
    return []


def _get(doc: dict[str, Any], dotted: str) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    return value


class FakeCollection:
    def __init__(self, database: FakeDatabase, name: str, options: dict[str, Any]) -> None:
        self.database = database
        self.name = name
        self.options = options
        self.write_concern = options.get("write_concern")
        self._client = database.client

    @property
    def _engine(self) -> Any:
        return self.database._engine[self.name]

    @property
    def _indexes(self) -> list[_UniqueIndex]:
        key = (self.database.name, self.name)
        return self._client._unique.setdefault(key, [_UniqueIndex("_id_", ("_id",), None)])

    async def _call(self, op: str, session: FakeSession | None, apply: Callable[[], Any]) -> Any:
        return await self._client._call(self.name, op, session, apply)

    # -- indexes
    async def create_indexes(self, indexes: Iterable[Any], session: FakeSession | None = None) -> list[str]:
        def create() -> list[str]:
            names = []
            for model in indexes:
                spec = model.document
                keys = tuple(spec["key"].keys())
                self._engine.create_index(list(spec["key"].items()), name=spec["name"])
                if spec.get("unique"):
                    index = _UniqueIndex(spec["name"], keys, spec.get("partialFilterExpression"))
                    if index not in self._indexes:
                        self._indexes.append(index)
                        self._client._keys[self._key] = None
                names.append(spec["name"])
            return names

        return await self._call("create_indexes", session, create)  # type: ignore[no-any-return]

    async def index_information(self) -> dict[str, Any]:
        return await self._call("index_information", None, self._engine.index_information)  # type: ignore[no-any-return]

    # -- writes: each notes the documents it touches (for an abort, and to undo itself if it breaks a
    # unique index); only the touched documents are checked against the others
    def _write(self, touched: Callable[[], list[Any]], write: Callable[[], Any]) -> Any:
        documents = self._engine._store._documents
        maps = self._key_maps()
        ids = touched()
        before = {doc_id: copy.deepcopy(documents.get(doc_id)) for doc_id in ids}
        result = write()
        for doc_id in _new_ids(result):
            before.setdefault(doc_id, None)
        clash = self._rekey(maps, before)
        if clash is not None:
            for doc_id, doc in before.items():
                if doc is None:
                    documents.pop(doc_id, None)
                else:
                    documents[doc_id] = doc
            self._client._keys[self._key] = None
            raise clash
        for doc_id, doc in before.items():
            self._client._written(documents, doc_id, doc)
        return result

    @property
    def _key(self) -> tuple[str, str]:
        return (self.database.name, self.name)

    def _key_maps(self) -> dict[str, dict[Any, Any]]:
        maps = self._client._keys.get(self._key)
        if maps is None:
            maps = {index.name: {} for index in self._indexes[1:]}  # the _id index: mongomock's own
            for doc_id, doc in self._engine._store._documents.items():
                for index in self._indexes[1:]:
                    key = index.key_of(doc)
                    if key is not None:
                        maps[index.name][key] = doc_id
            self._client._keys[self._key] = maps
        return maps

    def _rekey(self, maps: dict[str, dict[Any, Any]], before: dict[Any, Any]) -> DuplicateKeyError | None:
        """Move the touched documents' keys in the unique indexes; the clash, if one is taken."""
        documents = self._engine._store._documents
        for index in self._indexes[1:]:
            keys = maps[index.name]
            for doc_id, doc in before.items():
                old = index.key_of(doc) if doc is not None else None
                if old is not None and keys.get(old) == doc_id:
                    del keys[old]
            for doc_id in before:
                if doc_id not in documents:
                    continue
                new = index.key_of(documents[doc_id])
                if new is None:
                    continue
                if keys.get(new, doc_id) != doc_id:
                    return self._duplicate(index, documents[doc_id])
                keys[new] = doc_id
        return None

    def _matching(self, filter: dict[str, Any], sort: Any = None, one: bool = False) -> list[Any]:
        documents = self._engine._store._documents
        wanted = filter.get("_id")
        if set(filter) == {"_id"} and not isinstance(wanted, dict):  # the common case, without a scan
            return [wanted] if wanted in documents else []
        if set(filter) == {"_id"} and set(wanted) == {"$in"}:
            ids = [i for i in dict.fromkeys(wanted["$in"]) if i in documents]
            return ids[:1] if one else ids
        cursor = self._engine.find(filter, {"_id": 1})
        if sort:
            cursor = cursor.sort(sort)
        if one:
            cursor = cursor.limit(1)
        return [doc["_id"] for doc in cursor]

    def _delete(self, filter: dict[str, Any], one: bool) -> DeleteResult:
        documents = self._engine._store._documents
        ids = self._matching(filter, one=one)

        def remove() -> None:
            for doc_id in ids:
                documents.pop(doc_id)

        self._write(lambda: ids, remove)
        return DeleteResult({"n": len(ids), "ok": 1.0}, acknowledged=True)

    def _duplicate(self, index: _UniqueIndex, doc: dict[str, Any]) -> DuplicateKeyError:
        values = {key: _get(doc, key) for key in index.keys}
        shown = ", ".join(f"{k}: {v!r}" for k, v in values.items())
        message = (
            f"E11000 duplicate key error collection: {self.database.name}.{self.name} "
            f"index: {index.name} dup key: {{ {shown} }}"
        )
        details = {
            "index": 0,
            "code": 11000,
            "errmsg": message,
            "keyPattern": dict.fromkeys(index.keys, 1),
            "keyValue": values,
        }
        return DuplicateKeyError(message, 11000, details)

    # -- writes
    async def insert_one(
        self, document: dict[str, Any], session: FakeSession | None = None
    ) -> InsertOneResult:
        doc = copy.deepcopy(document)

        def insert() -> InsertOneResult:
            doc.setdefault("_id", ObjectId())
            if doc["_id"] in self._engine._store._documents:
                raise self._duplicate(self._indexes[0], doc)
            self._write(lambda: [doc["_id"]], lambda: self._engine.insert_one(doc))
            return InsertOneResult(doc["_id"], acknowledged=True)

        return await self._call("insert_one", session, insert)  # type: ignore[no-any-return]

    async def insert_many(
        self, documents: Iterable[dict[str, Any]], ordered: bool = True, session: FakeSession | None = None
    ) -> InsertManyResult:
        docs = [copy.deepcopy(d) for d in documents]

        def insert() -> InsertManyResult:
            for doc in docs:
                doc.setdefault("_id", ObjectId())
            documents = self._engine._store._documents
            ids = [doc["_id"] for doc in docs]
            if len(set(ids)) == len(ids) and not any(i in documents for i in ids):
                try:  # all at once; one by one (to find the failing one) only if that clashes
                    self._write(lambda: ids, lambda: [self._engine.insert_one(doc) for doc in docs])
                    return InsertManyResult(ids, acknowledged=True)
                except DuplicateKeyError:
                    pass
            for position, doc in enumerate(docs):
                try:
                    if doc["_id"] in documents:
                        raise self._duplicate(self._indexes[0], doc)
                    self._write(lambda doc=doc: [doc["_id"]], lambda doc=doc: self._engine.insert_one(doc))
                except DuplicateKeyError as exc:
                    error = {**(exc.details or {}), "index": position, "op": doc}
                    raise BulkWriteError(
                        {"writeErrors": [error], "nInserted": position, "writeConcernErrors": []}
                    ) from None
            return InsertManyResult(ids, acknowledged=True)

        return await self._call("insert_many", session, insert)  # type: ignore[no-any-return]

    async def update_one(
        self,
        filter: dict[str, Any],
        update: dict[str, Any],
        upsert: bool = False,
        session: FakeSession | None = None,
    ) -> UpdateResult:
        def apply() -> UpdateResult:
            result = self._write(
                lambda: self._matching(filter, one=True),
                lambda: self._engine.update_one(filter, copy.deepcopy(update), upsert=upsert),
            )
            return UpdateResult(result.raw_result, acknowledged=True)

        return await self._call("update_one", session, apply)  # type: ignore[no-any-return]

    async def update_many(
        self,
        filter: dict[str, Any],
        update: dict[str, Any],
        upsert: bool = False,
        session: FakeSession | None = None,
    ) -> UpdateResult:
        def apply() -> UpdateResult:
            result = self._write(
                lambda: self._matching(filter),
                lambda: self._engine.update_many(filter, copy.deepcopy(update), upsert=upsert),
            )
            return UpdateResult(result.raw_result, acknowledged=True)

        return await self._call("update_many", session, apply)  # type: ignore[no-any-return]

    async def find_one_and_update(
        self,
        filter: dict[str, Any],
        update: dict[str, Any],
        projection: Any = None,
        sort: Any = None,
        upsert: bool = False,
        return_document: bool = ReturnDocument.BEFORE,
        session: FakeSession | None = None,
    ) -> dict[str, Any] | None:
        def apply() -> dict[str, Any] | None:
            found = self._write(
                lambda: self._matching(filter, sort, one=True),
                lambda: self._engine.find_one_and_update(
                    filter,
                    copy.deepcopy(update),
                    projection=projection,
                    sort=sort,
                    upsert=upsert,
                    return_document=return_document,
                ),
            )
            return copy.deepcopy(found)

        return await self._call("find_one_and_update", session, apply)  # type: ignore[no-any-return]

    async def delete_one(self, filter: dict[str, Any], session: FakeSession | None = None) -> DeleteResult:
        def apply() -> DeleteResult:
            result = self._write(
                lambda: self._matching(filter, one=True), lambda: self._engine.delete_one(filter)
            )
            return DeleteResult(result.raw_result, acknowledged=True)

        return await self._call("delete_one", session, apply)  # type: ignore[no-any-return]

    async def delete_many(self, filter: dict[str, Any], session: FakeSession | None = None) -> DeleteResult:
        def apply() -> DeleteResult:
            return self._delete(filter, one=False)

        return await self._call("delete_many", session, apply)  # type: ignore[no-any-return]

    async def drop(self, session: FakeSession | None = None) -> None:
        await self._call("drop", session, self._engine.drop)
        self._client._keys[self._key] = None

    # -- reads
    async def find_one(
        self,
        filter: dict[str, Any] | None = None,
        projection: Any = None,
        sort: Any = None,
        session: FakeSession | None = None,
    ) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            cursor = self._engine.find(filter or {}, projection)
            if sort:
                cursor = cursor.sort(sort)
            return copy.deepcopy(next(iter(cursor.limit(1)), None))

        return await self._call("find_one", session, read)  # type: ignore[no-any-return]

    def find(
        self, filter: dict[str, Any] | None = None, projection: Any = None, session: FakeSession | None = None
    ) -> FakeCursor:
        return FakeCursor(self, filter or {}, projection, session)

    async def aggregate(
        self, pipeline: list[dict[str, Any]], session: FakeSession | None = None, **options: Any
    ) -> FakeCommandCursor:
        """mongomock's pipeline engine; a ``hint`` must name an index of the collection, as the server
        requires (it answers ``BadValue`` otherwise)."""

        def read() -> list[dict[str, Any]]:
            hint = options.get("hint")
            if isinstance(hint, str) and hint not in self._engine.index_information():
                raise OperationFailure("hint provided does not correspond to an existing index", code=2)
            return copy.deepcopy(list(self._engine.aggregate(pipeline)))

        return FakeCommandCursor(await self._call("aggregate", session, read))

    async def count_documents(self, filter: dict[str, Any], session: FakeSession | None = None) -> int:
        return await self._call("count_documents", session, lambda: self._engine.count_documents(filter))  # type: ignore[no-any-return]

    def documents(self) -> list[dict[str, Any]]:
        """What the collection holds now, read synchronously (for tests' assertions)."""
        return copy.deepcopy(list(self._engine.find({})))


class FakeCommandCursor:
    """``aggregate``'s cursor: the results, already read in the one command."""

    def __init__(self, found: list[dict[str, Any]]) -> None:
        self._found = found

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        return self._found[:length] if length else list(self._found)

    def __aiter__(self) -> Any:
        async def iterate() -> Any:
            for doc in self._found:
                yield doc

        return iterate()


class FakeCursor:
    """``find``'s cursor: ``sort``, ``skip`` and ``limit`` chain; the query runs at ``to_list`` or on
    iteration, as one command."""

    def __init__(
        self, collection: FakeCollection, filter: dict[str, Any], projection: Any, session: FakeSession | None
    ) -> None:
        self._collection = collection
        self._filter = filter
        self._projection = projection
        self._session = session
        self._sort: list[tuple[str, int]] | None = None
        self._skip = 0
        self._limit = 0

    def sort(self, key: Any, direction: int | None = None) -> FakeCursor:
        self._sort = [(key, direction or 1)] if isinstance(key, str) else list(key)
        return self

    def skip(self, count: int) -> FakeCursor:
        self._skip = count
        return self

    def limit(self, count: int) -> FakeCursor:
        self._limit = count
        return self

    async def to_list(self, length: int | None = None) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            fast = self._by_id()
            if fast is not None:
                return fast[:length] if length else fast
            cursor = self._collection._engine.find(self._filter, self._projection)
            if self._sort:
                cursor = cursor.sort(self._sort)
            cursor = cursor.skip(self._skip)
            if self._limit:
                cursor = cursor.limit(abs(self._limit))
            found = copy.deepcopy(list(cursor))
            return found[:length] if length else found

        return await self._collection._call("find", self._session, read)  # type: ignore[no-any-return]

    def _by_id(self) -> list[dict[str, Any]] | None:
        """Documents picked by ``_id`` alone, without mongomock's scan of the collection (or None)."""
        plain = self._projection is None or (
            isinstance(self._projection, dict) and all(v == 1 for v in self._projection.values())
        )
        if set(self._filter) != {"_id"} or self._sort or self._skip or not plain:
            return None
        documents = self._collection._engine._store._documents
        ids = self._collection._matching(self._filter)
        found = [copy.deepcopy(documents[i]) for i in ids]
        if self._projection is not None:
            found = [{k: v for k, v in doc.items() if k == "_id" or k in self._projection} for doc in found]
        return found[: abs(self._limit)] if self._limit else found

    def __aiter__(self) -> Any:
        async def iterate() -> Any:
            for doc in await self.to_list(None):
                yield doc

        return iterate()
