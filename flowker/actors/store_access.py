"""How an actor opens the service's store: the location its config names, the MongoDB URI fetched by
name from what the front door published (:mod:`flowker.actors.actor_secrets`), never an argument."""

from __future__ import annotations

from flowker.actors import actor_secrets
from flowker.actors.config import RuntimeConfig
from flowker.store.opening import MONGODB, StoreLocation, open_store
from flowker.store.ports import Store


def store_location(config: RuntimeConfig) -> StoreLocation:
    """Where this service's store is, as an actor of it sees it (Ray must be up for MongoDB's URI)."""
    uri = actor_secrets.fetch(config, actor_secrets.STORE_URI) if config.store_kind == MONGODB else None
    return StoreLocation(
        kind=config.store_kind,
        data_dir=config.data_dir,
        database=config.mongo_db,
        uri=uri,
        environment=config.environment,
    )


async def open_actor_store(config: RuntimeConfig) -> Store:
    """The service's store, opened (the actor closes it when it ends)."""
    return await open_store(store_location(config))
