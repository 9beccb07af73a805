"""What an executor actor calls through, by id: an executor configuration, or the call target of a provider
configuration (:func:`flowker.catalog.call_target.call_target`) — so that catalog-form executor nodes run
through the same executor actors, token cache and breaker machinery. Ids are UUIDs of either kind, never
both: an executor configuration of that id wins."""

from __future__ import annotations

from flowker.catalog.call_target import call_target
from flowker.domain.executor_config import ExecutorConfig
from flowker.store.ports import Store


class CallTargets:
    """Reads the call target of an id from the store (the one method :class:`CallerSource` needs)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, target_id: str) -> ExecutorConfig | None:
        config = await self._store.executor_configs.get(target_id)
        if config is not None:
            return config
        provider_config = await self._store.provider_configs.get(target_id)
        return call_target(provider_config) if provider_config is not None else None
