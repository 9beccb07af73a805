"""Builders of the store tests: workflows, executor configurations, and raw rows of a store's tables."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pymongo

from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.dsl.model import Workflow, WorkflowStatus
from flowker.store.embedded import EmbeddedStore
from flowker.store.embedded.store import DB_FILE
from flowker.store.mongo import MongoStore, schema
from flowker.store.ports import SORT_FIELDS, Store
from tests.fakes.memory_store import MemoryStore
from tests.fakes.mongo import FakeMongoClient

T0 = "2026-01-01T00:00:00.000000Z"
T1 = "2026-01-01T00:00:01.000000Z"
SORTS = [(field, order) for field in SORT_FIELDS for order in ("ASC", "DESC")]

# --------------------------------------------------------------------------------------------- builders


def make_workflow(
    name: str = "kyc onboarding",
    *,
    status: WorkflowStatus = WorkflowStatus.DRAFT,
    executor_id: str | None = None,
    created: str = T0,
    updated: str | None = None,
    workflow_id: str | None = None,
) -> Workflow:
    nodes: list[dict[str, Any]] = [
        {"id": "start", "type": "trigger", "name": "Start", "data": {"triggerId": "webhook"}}
    ]
    edges: list[dict[str, Any]] = []
    if executor_id is not None:
        nodes.append(
            {
                "id": "kyc",
                "type": "executor",
                "name": "KYC",
                "data": {"executorConfigId": executor_id, "endpointName": "validate"},
            }
        )
        edges.append({"id": "e1", "source": "start", "target": "kyc"})
    return Workflow.model_validate(
        {
            "id": workflow_id or str(uuid.uuid4()),
            "name": name,
            "description": "built by the store tests",
            "nodes": nodes,
            "edges": edges,
            "metadata": {"team": "compliance"},
            "status": status,
            "createdAt": created,
            "updatedAt": updated or created,
        }
    )


def make_config(
    name: str = "kyc-provider",
    *,
    status: ExecutorStatus = ExecutorStatus.ACTIVE,
    created: str = T0,
    updated: str | None = None,
    config_id: str | None = None,
) -> ExecutorConfig:
    return ExecutorConfig(
        id=config_id or str(uuid.uuid4()),
        name=name,
        baseUrl="https://kyc.example.com/v1",
        endpoints=[{"name": "validate", "path": "/validate", "method": "POST", "timeout": 30}],
        authentication={"type": "api_key", "config": {"key": "enc:v1:sealed", "header_name": "X-API-Key"}},
        status=status,
        metadata={"team": "compliance"},
        createdAt=created,
        updatedAt=updated or created,
    )


def make_item(kind: str, name: str, **fields: Any) -> Workflow | ExecutorConfig:
    return make_workflow(name, **fields) if kind == "workflows" else make_config(name, **fields)


def repository(store: Store, kind: str) -> Any:
    return store.workflows if kind == "workflows" else store.executor_configs


#: The MongoDB collection of each embedded store table the tests read raw.
MONGO_COLLECTIONS = {"workflows": schema.WORKFLOWS, "executor_configs": schema.EXECUTOR_CONFIGS}


def mongo_documents(store: MongoStore, collection: str) -> list[dict[str, Any]]:
    """The documents of one of the MongoDB store's collections, read synchronously: from the fake
    client, or through a separate (synchronous) PyMongo client to the real server."""
    client = store.database.client
    if isinstance(client, FakeMongoClient):
        return client.get_database(store.database.name).get_collection(collection).documents()
    with pymongo.MongoClient(store.uri) as sync:
        return list(sync[store.database.name][collection].find({}))


def db_rows(data_dir: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows read through a separate sqlite3 connection to the store's file."""
    conn = sqlite3.connect(data_dir / DB_FILE)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def raw_rows(store: Store, table: str, *columns: str) -> list[tuple[Any, ...]]:
    """``SELECT <columns> FROM <table>`` of any adapter: through a separate sqlite3 connection to the
    embedded store's file, from the memory store's tables, or from the MongoDB store's collection."""
    if isinstance(store, EmbeddedStore):
        return db_rows(store.db.path.parent, f"SELECT {', '.join(columns)} FROM {table}")
    if isinstance(store, MongoStore):
        fields = [{"id": "_id"}.get(column, column) for column in columns]
        return [tuple(doc.get(f) for f in fields) for doc in mongo_documents(store, MONGO_COLLECTIONS[table])]
    assert isinstance(store, MemoryStore)
    return store.rows(table, *columns)
