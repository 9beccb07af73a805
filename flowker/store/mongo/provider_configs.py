"""Provider configurations, with the provider's id as a field of its own (filtered by index)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flowker.store.mongo.outbox as outbox
from flowker.codes import PROVIDER_CONFIG_NAME_TAKEN
from flowker.domain.audit import AuditEvent
from flowker.domain.provider_config import ProviderConfig
from flowker.store.mongo.database import MongoDatabase
from flowker.store.mongo.documents import DocumentCollection
from flowker.store.mongo.schema import PROVIDER_CONFIGS
from flowker.store.ports import Page, ProviderConfigQuery


class MongoProviderConfigs:
    def __init__(self, database: MongoDatabase) -> None:
        self._database = database
        self._docs = DocumentCollection(
            database, PROVIDER_CONFIGS, ProviderConfig, "provider configuration", PROVIDER_CONFIG_NAME_TAKEN
        )

    async def create(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> ProviderConfig:
        async def insert(session: Any) -> ProviderConfig:
            stored = await self._docs.insert(session, config, providerId=config.providerId)
            await outbox.stage(self._database, session, events)
            return stored

        return await self._database.transaction(insert)

    async def get(self, config_id: str) -> ProviderConfig | None:
        return await self._docs.get(config_id)

    async def list(self, query: ProviderConfigQuery) -> Page[ProviderConfig]:
        return await self._docs.list(query, {"providerId": query.provider_id})

    async def replace(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> ProviderConfig:
        async def update(session: Any) -> ProviderConfig:
            stored = await self._docs.update(session, config, providerId=config.providerId)
            await outbox.stage(self._database, session, events)
            return stored

        return await self._database.transaction(update)

    async def delete(self, config: ProviderConfig, events: Sequence[AuditEvent] = ()) -> None:
        async def remove(session: Any) -> None:
            await self._docs.remove(session, config)
            await outbox.stage(self._database, session, events)

        await self._database.transaction(remove)
