"""The real driver path: PyMongo's ``AsyncMongoClient``, built by ``MongoStore`` from its URI, talking
to ``mockupdb`` (a scripted MongoDB wire-protocol peer on 127.0.0.1, not a database): a dropped
connection becomes StoreUnavailable and the next call reconnects by itself; a lost server fails within
the selection timeout; a write whose connection broke is retried by the driver under the same session
and transaction number (which a real server uses to apply it once) with majority, journaled writes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from mockupdb import MockupDB

from flowker.errors import StoreUnavailable
from flowker.store.mongo import MongoStore
from tests.store.test_execution_audit_contract import make_execution


@dataclass
class Script:
    """What the peer does: hang up on every command (``dropping``), or on the first ``drop_inserts``
    inserts; the inserts it received."""

    dropping: bool = False
    drop_inserts: int = 0
    inserts: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture
def peer() -> Iterator[tuple[MockupDB, Script]]:
    server = MockupDB()
    server._address = ("127.0.0.1", 0)  # mockupdb binds "localhost" otherwise
    server.run()
    script = Script()
    me = server.address_string
    hello = {
        "ismaster": True,
        "isWritablePrimary": True,
        "setName": "rs0",  # a replica set member: retryable writes and sessions are on
        "hosts": [me],
        "primary": me,
        "me": me,
        "minWireVersion": 0,
        "maxWireVersion": 21,
        "logicalSessionTimeoutMinutes": 30,
    }

    def respond(request: Any) -> bool:
        name = getattr(request, "command_name", None)
        if name in ("ismaster", "isMaster", "hello"):
            request.reply(hello)
            return True
        with script.lock:
            if script.dropping:
                request.hangup()
                return True
            if name == "insert":
                script.inserts.append(dict(request.doc))
                if len(script.inserts) <= script.drop_inserts:
                    request.hangup()
                else:
                    request.reply({"ok": 1, "n": len(request.doc["documents"])})
                return True
        request.ok()  # ping, endSessions when the client closes…
        return True

    server.autoresponds(respond)
    yield server, script
    server.stop()


def store_at(server: MockupDB, **options: str) -> MongoStore:
    # A short heartbeat: the driver notices the peer is back sooner than its default 10 s.
    settings = {"directConnection": "true", "heartbeatFrequencyMS": "500", **options}
    query = "&".join(f"{k}={v}" for k, v in settings.items())
    return MongoStore(f"mongodb://{server.address_string}/?{query}", "flowker")


async def test_a_dropped_connection_is_store_unavailable_and_the_next_call_reconnects(
    peer: tuple[MockupDB, Script],
) -> None:
    server, script = peer
    store = store_at(server)
    try:
        await store.ping()
        script.dropping = True
        with pytest.raises(StoreUnavailable) as raised:
            await store.ping()
        assert (raised.value.status, raised.value.code) == (503, "FLK-0012")
        script.dropping = False
        await store.ping()  # the same client: the driver reconnected by itself
    finally:
        await store.close()


async def test_a_lost_server_fails_within_the_selection_timeout_never_hangs(
    peer: tuple[MockupDB, Script],
) -> None:
    server, _ = peer
    store = store_at(server, serverSelectionTimeoutMS="300", connectTimeoutMS="300")
    try:
        await store.ping()
        server.stop()
        with pytest.raises(StoreUnavailable):
            await store.executions.get("any")
    finally:
        await store.close()


async def test_a_write_whose_connection_broke_is_retried_under_the_same_transaction_number(
    peer: tuple[MockupDB, Script],
) -> None:
    server, script = peer
    script.drop_inserts = 1
    store = store_at(server)
    try:
        execution = make_execution()
        stored, created = await store.executions.create_or_get(execution)
        assert created and stored.id == execution.id
    finally:
        await store.close()
    first, retry = script.inserts
    assert [doc["_id"] for doc in first["documents"]] == [execution.id]
    assert (retry["lsid"], retry["txnNumber"], retry["documents"]) == (
        first["lsid"],
        first["txnNumber"],
        first["documents"],
    )
    assert dict(first["writeConcern"]) == {"w": "majority", "j": True}
