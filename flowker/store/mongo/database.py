"""One MongoDB database: its collections with their write concerns, transactions, and the one error the
rest of Flowker sees when the server cannot be reached (:class:`~flowker.errors.StoreUnavailable`).

Every operation goes through :meth:`MongoDatabase.run` or :meth:`MongoDatabase.transaction`, which turn
the driver's connection errors into ``StoreUnavailable`` (503 FLK-0012). The driver reconnects by itself:
once the server answers again, the next operation succeeds, with no restart.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo.errors import ConnectionFailure, PyMongoError
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from flowker.errors import StoreUnavailable
from flowker.store.mongo.uri import redacted
from flowker.tunables import (
    MONGO_COMMIT_ATTEMPTS,
    MONGO_CONFLICT_ATTEMPTS,
    MONGO_CONFLICT_MAX_PAUSE,
    MONGO_RECONNECT_ATTEMPTS,
)

T = TypeVar("T")
log = logging.getLogger("flowker.store")

#: Acknowledged once a majority of the replica set has it in its journal: survives a failover.
DURABLE = WriteConcern("majority", j=True)

_TRANSIENT = "TransientTransactionError"
_UNKNOWN_COMMIT = "UnknownTransactionCommitResult"


class MongoDatabase:
    """The client, the database and the transaction helper shared by every repository."""

    def __init__(
        self,
        client: Any,
        name: str,
        uri: str,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.sleep = sleep
        self.random = random
        self.name = name
        self.uri = uri
        self.db = client.get_database(name, write_concern=DURABLE, read_concern=ReadConcern("majority"))

    def collection(self, name: str) -> Any:
        return self.db.get_collection(name, write_concern=DURABLE)

    async def run(self, work: Callable[[], Awaitable[T]]) -> T:
        """``await work()``, with connection loss turned into :class:`StoreUnavailable`."""
        try:
            return await work()
        except ConnectionFailure as exc:
            raise self._unavailable(exc) from None

    async def transaction(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """``await work(session)`` in one multi-document transaction (snapshot reads, majority writes):
        everything it writes is committed together, or nothing is if it raises.

        A transient failure runs ``work`` again: a write conflict with a concurrent transaction up to
        MONGO_CONFLICT_ATTEMPTS times, after short jittered pauses; a connection lost mid-transaction
        (failover) once more. A commit whose outcome the broken connection hid is retried (committing
        twice is a no-op on the server). What outlasts that gives :class:`StoreUnavailable`.
        """
        try:
            return await self._transaction(work)
        except ConnectionFailure as exc:
            raise self._unavailable(exc) from None
        except PyMongoError as exc:
            if exc.has_error_label(_TRANSIENT) or exc.has_error_label(_UNKNOWN_COMMIT):
                raise self._unavailable(exc) from None
            raise

    async def _transaction(self, work: Callable[[Any], Awaitable[T]]) -> T:
        conflicts = reconnects = 0
        while True:
            async with self.client.start_session() as session:
                await session.start_transaction(read_concern=ReadConcern("snapshot"), write_concern=DURABLE)
                try:
                    result = await work(session)
                    await self._commit(session)
                    return result
                except BaseException as exc:
                    if session.in_transaction:
                        await session.abort_transaction()  # the driver ignores its errors
                    if not _retryable(exc, _TRANSIENT):
                        raise
                    if isinstance(exc, ConnectionFailure):
                        reconnects += 1
                        if reconnects >= MONGO_RECONNECT_ATTEMPTS:
                            raise
                    else:  # a write conflict: the other transaction is about to commit
                        conflicts += 1
                        if conflicts >= MONGO_CONFLICT_ATTEMPTS:
                            raise
                        await self.sleep(self.random() * min(0.001 * 2**conflicts, MONGO_CONFLICT_MAX_PAUSE))

    async def _commit(self, session: Any) -> None:
        for attempt in range(1, MONGO_COMMIT_ATTEMPTS + 1):
            try:
                await session.commit_transaction()
                return
            except PyMongoError as exc:
                if not _retryable(exc, _UNKNOWN_COMMIT) or attempt == MONGO_COMMIT_ATTEMPTS:
                    raise

    def _unavailable(self, exc: PyMongoError) -> StoreUnavailable:
        log.warning("MongoDB at %s cannot be reached: %s", redacted(self.uri), type(exc).__name__)
        return StoreUnavailable("the store cannot be reached; retry later")

    async def ping(self) -> None:
        await self.run(lambda: self.db.command("ping"))


def _retryable(exc: BaseException, label: str) -> bool:
    return isinstance(exc, PyMongoError) and exc.has_error_label(label)


def duplicate_key(exc: PyMongoError) -> dict[str, Any] | None:
    """The key pattern that a write clashed with (``{"name": 1}``), or None if it is no duplicate key.

    Covers ``DuplicateKeyError`` and the first write error of a ``BulkWriteError``.
    """
    details: Any = getattr(exc, "details", None) or {}
    errors = details.get("writeErrors") if isinstance(details, dict) else None
    if errors:
        details = errors[0]
    code = details.get("code") if isinstance(details, dict) else None
    if code != 11000 and getattr(exc, "code", None) != 11000:
        return None
    pattern = details.get("keyPattern") if isinstance(details, dict) else None
    if isinstance(pattern, dict):
        return dict(pattern)
    # An older server names only the index, in its message: "... index: name_unique dup key: ...".
    message = str(details.get("errmsg", "") if isinstance(details, dict) else "") or str(exc)
    index = message.split(" index: ", 1)[1].split(" ", 1)[0] if " index: " in message else ""
    return {index.removesuffix("_unique").removesuffix("_1"): 1} if index else {}
