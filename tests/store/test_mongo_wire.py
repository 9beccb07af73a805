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

from flowker.errors import StateChanged, StoreUnavailable
from flowker.store.mongo import MongoStore
from tests.store.builders import make_workflow
from tests.store.test_execution_audit_contract import event, make_execution


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


@pytest.fixture
def transaction_peer() -> Iterator[tuple[MockupDB, list[dict[str, Any]], dict[str, int]]]:
    """A peer that plays a replica set primary through one transaction: it records every command, and
    hangs up on the first ``commitTransaction`` when ``drop["commits"]`` says so."""
    server = MockupDB()
    server._address = ("127.0.0.1", 0)
    server.run()
    me = server.address_string
    hello = {
        "ismaster": True,
        "isWritablePrimary": True,
        "setName": "rs0",
        "hosts": [me],
        "primary": me,
        "me": me,
        "minWireVersion": 0,
        "maxWireVersion": 21,
        "logicalSessionTimeoutMinutes": 30,
    }
    commands: list[dict[str, Any]] = []
    drop = {"commits": 0}
    lock = threading.Lock()

    def respond(request: Any) -> bool:
        name = getattr(request, "command_name", None)
        if name in ("ismaster", "isMaster", "hello"):
            request.reply(hello)
            return True
        with lock:
            commands.append({"name": name, **dict(request.doc)})
            if name == "commitTransaction" and drop["commits"] > 0:
                drop["commits"] -= 1
                request.hangup()
                return True
        if name == "find":
            ns = f"flowker.{request.doc['find']}"
            request.reply({"cursor": {"id": 0, "ns": ns, "firstBatch": []}, "ok": 1})
        elif name == "findAndModify":
            request.reply({"value": {"_id": "outbox", "position": 1}, "ok": 1})
        elif name == "update":
            matched = drop.get("matched", 1)
            request.reply({"ok": 1, "n": matched, "nModified": matched})
        elif name == "insert":
            request.reply({"ok": 1, "n": len(request.doc["documents"])})
        else:
            request.ok()
        return True

    server.autoresponds(respond)
    yield server, commands, drop
    server.stop()


@pytest.mark.parametrize("lost_commits", [0, 1])
async def test_a_change_and_its_audit_event_are_one_transaction_of_the_real_driver(
    transaction_peer: tuple[MockupDB, list[dict[str, Any]], dict[str, int]], lost_commits: int
) -> None:
    """Every command of the write carries the same session and transaction number, the first starts the
    transaction, and the commit asks for majority, journaled writes; a commit whose connection broke is
    sent again (the server commits a transaction once)."""
    server, commands, drop = transaction_peer
    drop["commits"] = lost_commits
    store = store_at(server)
    try:
        await store.workflows.create(make_workflow("over the wire"), [event("staged with it")])
    finally:
        await store.close()
    written = [c for c in commands if c["name"] in ("insert", "find", "findAndModify", "commitTransaction")]
    assert [c["name"] for c in written] == [
        "insert",  # the workflow
        "find",  # which of the events are staged already
        "findAndModify",  # the outbox counter
        "insert",  # the events
        *["commitTransaction"] * (1 + lost_commits),
    ]
    assert len({(bytes(c["lsid"]["id"]), c["txnNumber"]) for c in written}) == 1
    assert written[0]["startTransaction"] is True and all(c["autocommit"] is False for c in written)
    assert [d["_id"] for d in written[3]["documents"]] == [written[3]["documents"][0]["_id"]]
    commits = [dict(c["writeConcern"]) for c in written if c["name"] == "commitTransaction"]
    assert commits[0] == {"w": "majority", "j": True}
    # The driver retries a commit with the same write concern plus a bound on the wait for it.
    assert all({"w": "majority", "j": True}.items() <= commit.items() for commit in commits)
    assert written[0]["readConcern"]["level"] == "snapshot"


async def test_a_refused_change_aborts_the_real_driver_s_transaction(
    transaction_peer: tuple[MockupDB, list[dict[str, Any]], dict[str, int]],
) -> None:
    server, commands, drop = transaction_peer
    drop["matched"] = 0  # the peer's update matches nothing: the revision moved on
    store = store_at(server)
    try:
        with pytest.raises(StateChanged):
            await store.workflows.replace(make_workflow("stale").model_copy(update={"revision": 3}))
    finally:
        await store.close()
    names = [c["name"] for c in commands if c["name"] not in ("ping", "endSessions")]
    assert names == ["update", "abortTransaction"]
