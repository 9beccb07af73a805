"""The collections, their indexes, and the schema version recorded in ``meta``.

Created by :func:`prepare` when the store opens (creating an index that exists is a no-op), so that
uniqueness never depends on someone having run a script first. Documents keep each entity's JSON as
Flowker wrote it (``doc``, a string: timestamps stay ISO strings with microseconds, what is read back is
exactly what was written or hashed) next to the fields that queries, indexes and conditional updates use.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import CollectionInvalid, OperationFailure

from flowker.errors import ConfigError
from flowker.store.mongo.database import MongoDatabase

#: Bumped with every change of collections or indexes; a database of a newer version is refused.
SCHEMA_VERSION = 3

WORKFLOWS = "workflows"
EXECUTOR_CONFIGS = "executor_configurations"
PROVIDER_CONFIGS = "provider_configurations"
EXECUTIONS = "workflow_executions"
STEPS = "execution_steps"
AUDIT_EVENTS = "audit_events"
OUTBOX = "audit_outbox"
MERKLE_NODES = "merkle_nodes"
CHECKPOINTS = "audit_checkpoints"
BREAKERS = "breaker_states"
WEBHOOK_ROUTES = "webhook_routes"
META = "meta"

_UNIQUE = {"unique": True}
_NAMESPACE_EXISTS = 48

INDEXES: dict[str, list[IndexModel]] = {
    WORKFLOWS: [
        IndexModel([("name", ASCENDING)], name="name_unique", **_UNIQUE),
        IndexModel([("status", ASCENDING), ("createdAt", DESCENDING)], name="status_created"),
        IndexModel([("createdAt", ASCENDING), ("_id", ASCENDING)], name="created"),
        IndexModel([("updatedAt", ASCENDING), ("_id", ASCENDING)], name="updated"),
        IndexModel([("executorRefs.configId", ASCENDING), ("status", ASCENDING)], name="executor_refs"),
    ],
    EXECUTOR_CONFIGS: [
        IndexModel([("name", ASCENDING)], name="name_unique", **_UNIQUE),
        IndexModel([("status", ASCENDING), ("createdAt", DESCENDING)], name="status_created"),
        IndexModel([("createdAt", ASCENDING), ("_id", ASCENDING)], name="created"),
        IndexModel([("updatedAt", ASCENDING), ("_id", ASCENDING)], name="updated"),
    ],
    PROVIDER_CONFIGS: [
        IndexModel([("name", ASCENDING)], name="name_unique", **_UNIQUE),
        IndexModel([("status", ASCENDING), ("createdAt", DESCENDING)], name="status_created"),
        IndexModel([("providerId", ASCENDING), ("status", ASCENDING)], name="provider_status"),
        IndexModel([("createdAt", ASCENDING), ("_id", ASCENDING)], name="created"),
        IndexModel([("updatedAt", ASCENDING), ("_id", ASCENDING)], name="updated"),
    ],
    EXECUTIONS: [
        # Every execution has a key today; partial so that one without could never clash on null.
        IndexModel(
            [("idempotencyKey", ASCENDING)],
            name="idempotency_key_unique",
            partialFilterExpression={"idempotencyKey": {"$type": "string"}},
            **_UNIQUE,
        ),
        IndexModel([("startedAt", ASCENDING), ("_id", ASCENDING)], name="started"),
        IndexModel([("completedAt", ASCENDING), ("_id", ASCENDING)], name="completed"),
        IndexModel([("workflowId", ASCENDING), ("startedAt", ASCENDING)], name="workflow_started"),
        IndexModel([("status", ASCENDING), ("startedAt", ASCENDING)], name="status_started"),
        IndexModel([("status", ASCENDING), ("leaseExpires", ASCENDING)], name="status_lease"),
        IndexModel([("leaseOwner", ASCENDING)], name="lease_owner"),
        # The dashboards count the executions of a time window by status from this index alone.
        IndexModel([("startedAt", ASCENDING), ("status", ASCENDING)], name="started_status"),
    ],
    STEPS: [
        IndexModel([("executionId", ASCENDING), ("stepNumber", ASCENDING)], name="step_unique", **_UNIQUE),
    ],
    AUDIT_EVENTS: [  # _id is the sequence: one event per number, so the chain cannot fork
        IndexModel([("eventId", ASCENDING)], name="event_id_unique", **_UNIQUE),
        IndexModel([("resourceType", ASCENDING), ("resourceId", ASCENDING)], name="resource"),
        IndexModel([("eventType", ASCENDING)], name="event_type"),
        IndexModel([("timestamp", ASCENDING)], name="timestamp"),
    ],
    OUTBOX: [IndexModel([("position", ASCENDING)], name="position_unique", **_UNIQUE)],
    MERKLE_NODES: [
        IndexModel([("level", ASCENDING), ("index", ASCENDING)], name="node_unique", **_UNIQUE),
    ],
    CHECKPOINTS: [],  # _id is the tree size: one checkpoint per size
    BREAKERS: [],  # _id is the executor configuration's id
    # _id is "METHOD path": one active workflow per route (FLK-0360)
    WEBHOOK_ROUTES: [IndexModel([("workflowId", ASCENDING)], name="workflow")],
    META: [],
}


async def prepare(database: MongoDatabase) -> None:
    """Check the recorded schema version, create what is missing, and record this version.

    :raises ConfigError: when the database was written by a newer Flowker.
    """
    meta = database.collection(META)

    async def create() -> None:
        found: Any = await meta.find_one({"_id": "schema"})
        version = int(found["version"]) if found else 0
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"MongoDB database {database.name!r} holds Flowker schema version {version}; "
                f"this Flowker reads version {SCHEMA_VERSION} (upgrade Flowker, or use another database)"
            )
        existing = set(await database.db.list_collection_names())
        for name, indexes in INDEXES.items():
            if name not in existing:  # explicitly: a transaction cannot create a collection on 4.2
                try:
                    await database.db.create_collection(name)
                except CollectionInvalid:  # another process created it meanwhile
                    pass
                except OperationFailure as exc:
                    if exc.code != _NAMESPACE_EXISTS:  # ... between our check and our create
                        raise
            if indexes:
                await database.collection(name).create_indexes(indexes)
        await meta.update_one({"_id": "outbox"}, {"$setOnInsert": {"position": 0}}, upsert=True)
        await meta.update_one({"_id": "schema"}, {"$max": {"version": SCHEMA_VERSION}}, upsert=True)

    await database.run(create)
