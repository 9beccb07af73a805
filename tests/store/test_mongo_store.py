"""What only the MongoDB store has: its schema (collections, indexes, version), its write concerns, the
exact round trip of what it stores, its URI policy, and its behaviour when the server fails: one error
(StoreUnavailable, 503 FLK-0012), recovery without a restart, and no duplicate after a lost answer.

Over the fake of PyMongo's async client (tests/fakes/mongo.py); the contract suites run over it too.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo.errors import AutoReconnect, BulkWriteError, DuplicateKeyError, NetworkTimeout, OperationFailure

from flowker.actors.sequencer import Sequencer
from flowker.domain.audit import AuditAction, AuditEvent, ResourceType
from flowker.domain.audit_verify import Reason, verify_records
from flowker.errors import ConfigError, Conflict, StoreUnavailable
from flowker.settings import Settings
from flowker.store.mongo import MongoStore, check_mongo_uri, redacted
from flowker.store.mongo.database import duplicate_key
from flowker.store.mongo.schema import (
    AUDIT_EVENTS,
    EXECUTIONS,
    INDEXES,
    META,
    OUTBOX,
    SCHEMA_VERSION,
    STEPS,
    WORKFLOWS,
)
from flowker.store.mongo.uri import client_options
from flowker.store.ports import AuditQuery, ListQuery
from flowker.tunables import MONGO_CONFLICT_ATTEMPTS, MONGO_CONFLICT_MAX_PAUSE
from flowker.usecases.audit_verification import verify_stored
from tests.fakes.mongo import FakeMongoClient
from tests.helpers.audit_log import KEY, build_log
from tests.store.builders import make_workflow, mongo_documents
from tests.store.test_execution_audit_contract import event, make_execution, sealed, step


@pytest.fixture
def client() -> FakeMongoClient:
    return FakeMongoClient()


@pytest.fixture
async def store(client: FakeMongoClient) -> AsyncIterator[MongoStore]:
    opened = await MongoStore("mongodb://fake.invalid", "flowker", client=client).open()
    yield opened
    await opened.close()


# ------------------------------------------------------------------------------------------- schema


async def test_open_creates_every_collection_and_unique_index_and_records_the_version(
    store: MongoStore, client: FakeMongoClient
) -> None:
    db = client.get_database("flowker")
    assert set(await db.list_collection_names()) >= set(INDEXES)
    unique = {
        name: {index.name for index in client._unique[("flowker", name)][1:]}
        for name in (WORKFLOWS, EXECUTIONS, STEPS, AUDIT_EVENTS)
    }
    assert unique == {
        WORKFLOWS: {"name_unique"},
        EXECUTIONS: {"idempotency_key_unique"},
        STEPS: {"step_unique"},
        AUDIT_EVENTS: {"event_id_unique"},
    }
    info = await db.get_collection(EXECUTIONS).index_information()
    assert {"started", "completed", "status_started", "status_lease", "workflow_started"} <= set(info)
    assert [d for d in mongo_documents(store, META) if d["_id"] == "schema"] == [
        {"_id": "schema", "version": SCHEMA_VERSION}
    ]
    # Opening again (another process, a restart) changes nothing and keeps what is stored.
    await store.workflows.create(make_workflow("kept"))
    again = await MongoStore("mongodb://fake.invalid", "flowker", client=client).open()
    assert [w.name for w in (await again.workflows.list(ListQuery())).items] == ["kept"]


async def test_a_database_of_a_newer_schema_is_refused(store: MongoStore, client: FakeMongoClient) -> None:
    meta = client.get_database("flowker").get_collection(META)
    await meta.update_one({"_id": "schema"}, {"$set": {"version": SCHEMA_VERSION + 1}})
    with pytest.raises(ConfigError, match=f"schema version {SCHEMA_VERSION + 1}.*reads version"):
        await MongoStore("mongodb://fake.invalid", "flowker", client=client).open()


async def test_what_must_not_be_lost_is_written_with_majority_journaled_write_concern(
    store: MongoStore,
) -> None:
    for repository in (store.executions, store.audit, store.workflows):
        for collection in vars(repository).values():
            if hasattr(collection, "write_concern"):
                assert collection.write_concern.document == {"w": "majority", "j": True}
    assert store.database.collection(OUTBOX).write_concern.document == {"w": "majority", "j": True}


# ----------------------------------------------------------------------------------------- round trip


async def test_records_read_back_equal_what_was_written_to_the_microsecond(store: MongoStore) -> None:
    workflow = make_workflow(
        "precise", created="2026-01-01T00:00:00.123456Z", updated="2026-01-01T00:00:00.654321Z"
    )
    stored = await store.workflows.create(workflow)
    assert await store.workflows.get(workflow.id) == stored
    read = await store.workflows.get(workflow.id)
    assert read is not None and (read.createdAt, read.updatedAt) == (workflow.createdAt, workflow.updatedAt)

    records = sealed([event("a"), event("b")])
    records[0]["metadata"] = {"amount": 10.25, "big": 2**53 + 1, "$odd.key": "kept"}
    await store.audit.append(records)
    assert await store.audit.up_to(2) == records  # no _id leaks, nothing rounded to milliseconds
    assert await store.audit.get(records[0]["eventId"]) == records[0]
    assert (await store.audit.list(AuditQuery())).items == records[::-1]


# ------------------------------------------------------------------------------------------- the URI


def test_production_refuses_a_uri_without_tls_unless_allowed() -> None:
    plain = "mongodb://flowker:s3cret-pass@db1:27017,db2:27017/?replicaSet=rs0"
    with pytest.raises(ConfigError) as raised:
        check_mongo_uri(plain, "production", allow_insecure=False)
    assert "s3cret-pass" not in str(raised.value) and "********" in str(raised.value)
    assert "FLOWKER_MONGO_ALLOW_INSECURE" in str(raised.value)
    check_mongo_uri(plain, "production", allow_insecure=True)
    check_mongo_uri(plain, "development", allow_insecure=False)
    for secure in (
        plain + "&tls=true",
        plain + "&ssl=true",
        "mongodb+srv://flowker:pw@cluster0.example.net/?retryWrites=true",
    ):
        check_mongo_uri(secure, "production", allow_insecure=False)
    with pytest.raises(ConfigError):
        check_mongo_uri("mongodb+srv://cluster0.example.net/?tls=false", "production", allow_insecure=False)
    with pytest.raises(ConfigError):
        check_mongo_uri("mongodb://h/?tls=true&ssl=false", "production", allow_insecure=False)
    with pytest.raises(ConfigError, match="does not start with"):
        check_mongo_uri("postgres://u:pw@h/db", "development", allow_insecure=False)


def test_redacted_masks_the_password_only() -> None:
    assert redacted("mongodb://app:p@ss:w0rd@db:27017/flowker?tls=true") == (
        "mongodb://app:********@db:27017/flowker?tls=true"
    )
    assert redacted("mongodb+srv://cluster0.example.net/") == "mongodb+srv://cluster0.example.net/"
    assert redacted("mongodb://app@db/") == "mongodb://app@db/"
    assert "p@ss" not in repr(MongoStore("mongodb://app:p@ss@db/", client=FakeMongoClient()))


def test_the_client_gets_bounded_timeouts_and_durable_writes_unless_the_uri_says_otherwise() -> None:
    options = client_options("mongodb://db/?tls=true&tlsCAFile=/etc/ca.pem")
    assert options["serverSelectionTimeoutMS"] <= 5000 and options["socketTimeoutMS"] <= 30_000
    assert (options["w"], options["journal"], options["retryWrites"]) == ("majority", True, True)
    assert not any(name.lower().startswith(("tls", "ssl")) for name in options)
    given = client_options("mongodb://db/?serverSelectionTimeoutMS=9000&w=1&j=false")
    assert not {"serverSelectionTimeoutMS", "w", "journal"} & set(given)


# ------------------------------------------------------------------------------------ server failures


async def test_a_lost_server_gives_store_unavailable_everywhere_and_its_return_needs_no_restart(
    store: MongoStore, client: FakeMongoClient
) -> None:
    created = await store.workflows.create(make_workflow("before the outage"))
    client.faults.down = True
    calls: list[Any] = [
        store.ping(),
        store.workflows.get(created.id),
        store.workflows.list(ListQuery()),
        store.workflows.create(make_workflow("during the outage"), [event("lost?")]),
        store.executions.create_or_get(make_execution()),
        store.executions.claim("x", "sup-a", 10.0, 0.0),
        store.audit.head(),
        store.audit.append(sealed([event("x")])),
        store.audit.staged(10),
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable) as raised:
            await call
        assert (raised.value.status, raised.value.code) == (503, "FLK-0012")
    client.faults.down = False
    await store.ping()
    names = [w.name for w in (await store.workflows.list(ListQuery())).items]
    assert names == ["before the outage"]  # nothing of a refused write was kept
    assert await store.audit.staged(10) == []
    await store.workflows.create(make_workflow("after the outage"))


async def test_dropped_connections_fail_as_many_commands_then_the_driver_is_back(
    store: MongoStore, client: FakeMongoClient
) -> None:
    client.faults.fail(2, error=lambda: AutoReconnect("fake: connection reset"))
    for _ in range(2):
        with pytest.raises(StoreUnavailable):
            await store.ping()
    await store.ping()


async def test_a_transient_failure_inside_a_transaction_runs_it_again(
    store: MongoStore, client: FakeMongoClient
) -> None:
    """A failover in the middle of a transaction (the driver labels it TransientTransactionError): the
    adapter runs the whole transaction again, once, and the change is kept once."""
    client.faults.fail(1, collection=OUTBOX, operation="insert_many")
    created = await store.workflows.create(make_workflow("retried"), [event("once")])
    assert await store.workflows.get(created.id) == created
    assert [e.resource_id for e in await store.audit.staged(10)] == ["once"]


async def test_an_execution_inserted_whose_answer_was_lost_is_not_duplicated_by_the_retry(
    store: MongoStore, client: FakeMongoClient
) -> None:
    execution = make_execution(key="pay-once")
    client.faults.fail(1, after_apply=True, collection=EXECUTIONS, operation="insert_one")
    with pytest.raises(StoreUnavailable):
        await store.executions.create_or_get(execution)
    # The client retries with the same Idempotency-Key (the front door builds a new execution id).
    again, created = await store.executions.create_or_get(make_execution(key="pay-once"))
    assert (created, again.id) == (False, execution.id)
    same, created = await store.executions.create_or_get(execution)  # or the very same request
    assert (created, same.id) == (False, execution.id)
    assert [d["_id"] for d in mongo_documents(store, EXECUTIONS)] == [execution.id]


async def test_a_step_whose_commit_answer_was_lost_is_committed_once(
    store: MongoStore, client: FakeMongoClient
) -> None:
    execution, _ = await store.executions.create_or_get(make_execution())
    client.faults.fail(1, after_apply=True, operation="commit_transaction")
    saved = await store.executions.save(execution, [step(1)], [event(execution.id)])  # the commit retried
    assert saved.revision == 2 and await store.executions.get(execution.id) == saved
    assert await store.executions.steps(execution.id) == [step(1)]
    assert len(await store.audit.staged(10)) == 1


async def test_an_audit_append_whose_answer_was_lost_does_not_duplicate_any_event(
    store: MongoStore, client: FakeMongoClient
) -> None:
    """The commit of the append is applied, then every answer is lost: the sequencer fails the call;
    its next run finds the events chained (by event id) and chains nothing twice."""
    staged = [event(f"staged-{i}") for i in range(3)]
    await store.workflows.create(make_workflow("audited"), staged)
    sequencer = Sequencer(store.audit)
    direct = AuditEvent("EXECUTION_STARTED", AuditAction.EXECUTE, ResourceType.EXECUTION, str(uuid.uuid4()))
    client.faults.fail(1, after_apply=True, operation="commit_transaction")
    client.faults.fail(10, operation="commit_transaction")  # the retried commits are lost as well
    with pytest.raises(StoreUnavailable):
        await sequencer.append([direct])
    assert len(mongo_documents(store, AUDIT_EVENTS)) == 4  # it was committed, though
    assert mongo_documents(store, OUTBOX) == []
    client.faults._planned.clear()

    assert await sequencer.append([direct]) == [4]  # the retry: already chained, nothing appended
    await sequencer.drain()
    chained = await store.audit.up_to(100)
    assert [r["eventId"] for r in chained] == [*(e.event_id for e in staged), direct.event_id]
    assert await store.audit.staged(10) == []
    assert len(mongo_documents(store, AUDIT_EVENTS)) == 4


async def test_an_operation_outside_the_transaction_s_session_is_caught_by_the_fake(
    client: FakeMongoClient,
) -> None:
    """The fake's guard against a bug the real server would not report (a write outside the
    transaction), so that the adapter's transactions are known to carry their session everywhere."""
    collection = client.get_database("flowker").get_collection("x")
    async with client.start_session() as session:
        await session.start_transaction()
        with pytest.raises(AssertionError, match="without the session"):
            await collection.insert_one({"_id": 1})
        await session.abort_transaction()
    await collection.insert_one({"_id": 1})
    with pytest.raises(NetworkTimeout):
        client.faults.fail(1, after_apply=True, operation="insert_one")
        await collection.insert_one({"_id": 2})
    assert [d["_id"] for d in collection.documents()] == [1, 2]


def test_the_insecure_mongo_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).mongo_allow_insecure is False
    assert Settings.from_env({"FLOWKER_MONGO_ALLOW_INSECURE": "true"}).mongo_allow_insecure is True
    with pytest.raises(ConfigError, match="FLOWKER_MONGO_ALLOW_INSECURE"):
        Settings.from_env({"FLOWKER_MONGO_ALLOW_INSECURE": "maybe"})


# ------------------------------------------------------------------------------------------ concurrency


async def test_concurrent_writers_of_one_name_one_key_or_one_lease_leave_one_winner(
    store: MongoStore,
) -> None:
    outcomes = await asyncio.gather(
        *(store.workflows.create(make_workflow("contested")) for _ in range(8)), return_exceptions=True
    )
    assert sum(not isinstance(o, BaseException) for o in outcomes) == 1
    assert all(isinstance(o, Conflict) for o in outcomes if isinstance(o, BaseException))
    results = await asyncio.gather(
        *(store.executions.create_or_get(make_execution(key="k")) for _ in range(8))
    )
    assert sum(created for _, created in results) == 1 and len({e.id for e, _ in results}) == 1
    execution = results[0][0]
    claims = await asyncio.gather(
        *(store.executions.claim(execution.id, f"sup-{i}", 100.0, 0.0) for i in range(8))
    )
    assert sum(claim is not None for claim in claims) == 1
    held = await store.executions.get(execution.id)
    assert held is not None and (held.attempts, held.revision) == (1, 2)


async def test_a_lost_write_conflict_runs_the_transaction_again_after_a_short_pause(
    store: MongoStore, client: FakeMongoClient
) -> None:
    pauses: list[float] = []

    async def sleep(seconds: float) -> None:
        pauses.append(seconds)

    store.database.sleep, store.database.random = sleep, lambda: 1.0
    conflict = lambda: OperationFailure("WriteConflict", 112)  # noqa: E731
    client.faults.fail(3, error=conflict, collection=META, operation="find_one_and_update")
    created = await store.workflows.create(make_workflow("after conflicts"), [event("kept once")])
    assert pauses == [0.002, 0.004, 0.008]
    assert await store.workflows.get(created.id) == created
    assert [e.resource_id for e in await store.audit.staged(10)] == ["kept once"]

    client.faults.fail(100, error=conflict, collection=META, operation="find_one_and_update")
    with pytest.raises(StoreUnavailable):
        await store.workflows.create(make_workflow("never"), [event("never")])
    assert max(pauses) == MONGO_CONFLICT_MAX_PAUSE and len(pauses) == 3 + MONGO_CONFLICT_ATTEMPTS - 1
    assert [w.name for w in (await store.workflows.list(ListQuery())).items] == ["after conflicts"]


def test_the_clashing_index_is_read_from_the_error_of_any_server_version() -> None:
    message = (
        "E11000 duplicate key error collection: flowker.workflows index: name_unique dup key: { name: 1 }"
    )
    assert duplicate_key(DuplicateKeyError(message, 11000, {"code": 11000, "errmsg": message})) == {"name": 1}
    assert duplicate_key(
        DuplicateKeyError(message, 11000, {"code": 11000, "keyPattern": {"_id": 1}, "errmsg": message})
    ) == {"_id": 1}
    bulk = BulkWriteError({"writeErrors": [{"code": 11000, "keyPattern": {"eventId": 1}}], "nInserted": 0})
    assert duplicate_key(bulk) == {"eventId": 1}
    assert duplicate_key(OperationFailure("WriteConflict", 112)) is None


async def test_a_restarted_audit_writer_continues_the_stored_chain_and_it_verifies(
    store: MongoStore, client: FakeMongoClient
) -> None:
    first = Sequencer(store.audit)
    assert await first.append([event(f"before-{i}") for i in range(3)]) == [1, 2, 3]
    restarted = await MongoStore("mongodb://fake.invalid", "flowker", client=client).open()  # a new process
    second = Sequencer(restarted.audit)
    assert await second.append([event("after")]) == [4]
    assert (await restarted.audit.head())[0] == 4
    records = await restarted.audit.up_to(4)
    outcome = verify_records(records)
    assert (outcome.is_valid, outcome.total_checked) == (True, 4), outcome.message
    assert await restarted.audit.tree_size() == 4


async def test_two_processes_opening_a_new_database_at_once_both_succeed() -> None:
    """The other one created a collection between this one's check and its create (NamespaceExists)."""
    client = FakeMongoClient()
    client.faults.fail(
        1, error=lambda: OperationFailure("Collection already exists", 48), operation="create_collection"
    )
    store = await MongoStore("mongodb://fake.invalid", client=client).open()
    await store.workflows.create(make_workflow("opened"))
    client.faults.fail(1, error=lambda: OperationFailure("not authorized", 13), operation="create_collection")
    with pytest.raises(OperationFailure):
        await MongoStore("mongodb://fake.invalid", "another", client=client).open()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("eventType", "WORKFLOW_DELETED"),
        ("resourceId", "00000000-0000-0000-0000-00000000abcd"),
        ("timestamp", "2020-01-01T00:00:00.000000Z"),
    ],
)
async def test_a_searched_field_edited_in_the_database_is_a_column_mismatch(
    store: MongoStore, client: FakeMongoClient, field: str, value: str
) -> None:
    """The searched fields sit beside the hashed document: one edited there steers searches, so it is
    reported although the document still verifies."""
    log = build_log(20)
    await store.audit.append(log)
    assert (await verify_stored(store, KEY.verifier(), 20)).is_valid
    edited = await client["flowker"]["audit_events"].update_one({"_id": 7}, {"$set": {field: value}})
    assert edited.modified_count == 1
    result = await verify_stored(store, KEY.verifier(), 20)
    assert (result.reason, result.first_invalid_sequence, result.checked) == (Reason.COLUMN_MISMATCH, 7, 6)
