"""Executor configurations, refused changes that would break an active workflow calling them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING

import flowker.store.mongo.outbox as outbox
from flowker.codes import EXECUTOR_CONFIG_NAME_TAKEN, EXECUTOR_CONFIG_NOT_ALLOWED
from flowker.domain.audit import AuditEvent
from flowker.domain.executor_config import ExecutorConfig
from flowker.dsl.model import WorkflowStatus
from flowker.errors import Unprocessable
from flowker.store.mongo.database import MongoDatabase
from flowker.store.mongo.documents import DocumentCollection
from flowker.store.mongo.schema import BREAKERS, EXECUTOR_CONFIGS, WORKFLOWS
from flowker.store.ports import ListQuery, Page, WorkflowUsage


class MongoExecutorConfigs:
    def __init__(self, database: MongoDatabase) -> None:
        self._database = database
        self._docs = DocumentCollection(
            database, EXECUTOR_CONFIGS, ExecutorConfig, "executor configuration", EXECUTOR_CONFIG_NAME_TAKEN
        )
        self._workflows = database.collection(WORKFLOWS)

    async def create(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> ExecutorConfig:
        async def insert(session: Any) -> ExecutorConfig:
            stored = await self._docs.insert(session, config)
            await outbox.stage(self._database, session, events)
            return stored

        return await self._database.transaction(insert)

    async def get(self, config_id: str) -> ExecutorConfig | None:
        return await self._docs.get(config_id)

    async def get_many(self, config_ids: Sequence[str]) -> dict[str, ExecutorConfig]:
        if not config_ids:
            return {}

        async def read() -> list[dict[str, Any]]:
            return await self._docs.collection.find({"_id": {"$in": list(config_ids)}}).to_list(None)

        loaded = [self._docs.load(found) for found in await self._database.run(read)]
        return {config.id: config for config in loaded}

    async def list(self, query: ListQuery) -> Page[ExecutorConfig]:
        return await self._docs.list(query)

    async def _active_users(self, config_id: str, session: Any = None) -> list[dict[str, Any]]:
        """The active workflows that call ``config_id``, by name (their ids, names and references)."""
        cursor = self._workflows.find(
            {"executorRefs.configId": config_id, "status": WorkflowStatus.ACTIVE.value},
            {"name": 1, "executorRefs": 1},
            session=session,
        )
        return await cursor.sort([("name", ASCENDING)]).to_list(None)

    async def replace(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> ExecutorConfig:
        async def update(session: Any) -> ExecutorConfig:
            # The write of the configuration conflicts with an activation's fence on it (see
            # MongoWorkflows._check_bindings): this read of the active workflows cannot be outdated.
            kept = config.endpoint_names()
            for workflow in await self._active_users(config.id, session):
                for ref in workflow.get("executorRefs", []):
                    if ref["configId"] == config.id and ref["endpoint"] not in kept:
                        raise Unprocessable(
                            f"endpoint {ref['endpoint']!r} is called by active workflow "
                            f"{workflow['name']!r}; deactivate it first",
                            code=EXECUTOR_CONFIG_NOT_ALLOWED,
                        )
            stored = await self._docs.update(session, config)
            await outbox.stage(self._database, session, events)
            return stored

        return await self._database.transaction(update)

    async def delete(self, config: ExecutorConfig, events: Sequence[AuditEvent] = ()) -> None:
        async def remove(session: Any) -> None:
            users = await self._active_users(config.id, session)
            if users:
                names = ", ".join(repr(u["name"]) for u in users)
                raise Unprocessable(
                    f"executor configuration {config.name!r} is used by active workflows: {names}",
                    code=EXECUTOR_CONFIG_NOT_ALLOWED,
                )
            await self._docs.remove(session, config)
            await self._database.collection(BREAKERS).delete_one({"_id": config.id}, session=session)
            await outbox.stage(self._database, session, events)

        await self._database.transaction(remove)

    async def used_by_active_workflows(self, config_id: str) -> list[WorkflowUsage]:
        users = await self._database.run(lambda: self._active_users(config_id))
        return [WorkflowUsage(id=u["_id"], name=u["name"]) for u in users]
