"""Workflows, each with the executor configurations and endpoints its nodes call (``executorRefs``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ReturnDocument
from pymongo.errors import PyMongoError

import flowker.store.mongo.outbox as outbox
from flowker.codes import EXECUTOR_CONFIG_NAME_TAKEN, WORKFLOW_NAME_TAKEN
from flowker.domain.audit import AuditEvent
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.dsl.model import Workflow, WorkflowStatus
from flowker.dsl.validation import executor_bindings
from flowker.dsl.webhook_trigger import WebhookRoute, path_taken, routes_of
from flowker.errors import StateChanged
from flowker.store.mongo.database import MongoDatabase, duplicate_key
from flowker.store.mongo.documents import DocumentCollection, count_by
from flowker.store.mongo.schema import EXECUTOR_CONFIGS, WEBHOOK_ROUTES, WORKFLOWS
from flowker.store.ports import ListQuery, Page


def executor_refs(workflow: Workflow) -> list[dict[str, str]]:
    """What the workflow's executor nodes call, as stored with it (and indexed on ``configId``)."""
    return [{"configId": ref, "endpoint": endpoint} for ref, endpoint in executor_bindings(workflow)]


class MongoWorkflows:
    def __init__(self, database: MongoDatabase) -> None:
        self._database = database
        self._docs = DocumentCollection(database, WORKFLOWS, Workflow, "workflow", WORKFLOW_NAME_TAKEN)
        self._configs = DocumentCollection(
            database, EXECUTOR_CONFIGS, ExecutorConfig, "executor configuration", EXECUTOR_CONFIG_NAME_TAKEN
        )

    async def create(self, workflow: Workflow, events: Sequence[AuditEvent] = ()) -> Workflow:
        async def insert(session: Any) -> Workflow:
            stored = await self._docs.insert(session, workflow, executorRefs=executor_refs(workflow))
            await outbox.stage(self._database, session, events)
            return stored

        return await self._database.transaction(insert)

    async def get(self, workflow_id: str) -> Workflow | None:
        return await self._docs.get(workflow_id)

    async def list(self, query: ListQuery) -> Page[Workflow]:
        return await self._docs.list(query)

    async def replace(
        self, workflow: Workflow, events: Sequence[AuditEvent] = (), *, check_executors: bool = False
    ) -> Workflow:
        async def update(session: Any) -> Workflow:
            if check_executors:
                await self._check_bindings(session, workflow)
            stored = await self._docs.update(session, workflow, executorRefs=executor_refs(workflow))
            await self._write_routes(session, workflow)
            await outbox.stage(self._database, session, events)
            return stored

        return await self._database.transaction(update)

    async def _write_routes(self, session: Any, workflow: Workflow) -> None:
        """The workflow's routes when it is active, none otherwise; ``_id`` "METHOD path" is the unique
        key, so of two activations of one route the second fails (FLK-0360)."""
        routes = self._database.collection(WEBHOOK_ROUTES)
        await routes.delete_many({"workflowId": workflow.id}, session=session)
        if workflow.status != WorkflowStatus.ACTIVE:
            return
        for route in routes_of(workflow, workflow.id):
            key = route_key(route.method, route.path)
            owner: Any = await routes.find_one({"_id": key}, session=session)
            if owner:  # the common case, answered with the owner's name
                found = await self._docs.collection.find_one({"_id": owner["workflowId"]}, session=session)
                raise path_taken(route, found["name"] if found else None)
            try:  # the unique _id decides a race that the read above could not see
                await routes.insert_one(
                    {
                        "_id": key,
                        "method": route.method,
                        "path": route.path,
                        "workflowId": route.workflow_id,
                        "tokenHash": route.token_hash,
                    },
                    session=session,
                )
            except PyMongoError as exc:
                if duplicate_key(exc) is None:
                    raise
                raise path_taken(route, None) from None

    async def _check_bindings(self, session: Any, workflow: Workflow) -> None:
        """Every configuration the workflow calls exists, is active and has the endpoint.

        Each one is read with a write (``fence`` incremented): a transaction that changes or deletes the
        configuration at the same time conflicts with this one, so the check cannot be outdated by the
        time the activation commits (snapshot isolation alone would allow that write skew).
        """
        configs = self._configs.collection
        for config_id, endpoint in executor_bindings(workflow):
            found = await configs.find_one_and_update(
                {"_id": config_id},
                {"$inc": {"fence": 1}},
                return_document=ReturnDocument.AFTER,
                session=session,
            )
            config = self._configs.load(found) if found else None
            if (
                config is None
                or config.status != ExecutorStatus.ACTIVE
                or endpoint not in config.endpoint_names()
            ):
                raise StateChanged(f"executor configuration {config_id}")

    async def delete(self, workflow: Workflow, events: Sequence[AuditEvent] = ()) -> None:
        async def remove(session: Any) -> None:
            await self._docs.remove(session, workflow)
            await self._database.collection(WEBHOOK_ROUTES).delete_many(
                {"workflowId": workflow.id}, session=session
            )
            await outbox.stage(self._database, session, events)

        await self._database.transaction(remove)

    async def count_by_status(self) -> dict[str, int]:
        """One ``$group`` on ``status``, hinted to the index ``status_created`` (a covered scan)."""
        return await count_by(self._docs.collection, self._database, {}, "status_created")


def route_key(method: str, path: str) -> str:
    """The ``_id`` of a route document."""
    return f"{method} {path}"


class MongoWebhookRoutes:
    """The collection ``webhook_routes``, read by ``_id``."""

    def __init__(self, database: MongoDatabase) -> None:
        self._database = database

    async def find(self, method: str, path: str) -> WebhookRoute | None:
        routes = self._database.collection(WEBHOOK_ROUTES)
        found: Any = await self._database.run(lambda: routes.find_one({"_id": route_key(method, path)}))
        if not found:
            return None
        return WebhookRoute(found["method"], found["path"], found["workflowId"], found.get("tokenHash"))
