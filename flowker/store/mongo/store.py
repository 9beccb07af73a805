"""The MongoDB store: every port over one database, through PyMongo's ``AsyncMongoClient``.

Multi-document transactions (a change with its audit events, an audit append with its tree nodes and
outbox removal) need a replica set or a sharded cluster, which production MongoDB with majority write
concern is anyway; a standalone server refuses them.
"""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

from flowker.store.mongo.audit import MongoAuditLog
from flowker.store.mongo.breakers import MongoBreakerStates
from flowker.store.mongo.checkpoints import MongoCheckpoints
from flowker.store.mongo.database import MongoDatabase
from flowker.store.mongo.executions import MongoExecutions
from flowker.store.mongo.executor_configs import MongoExecutorConfigs
from flowker.store.mongo.provider_configs import MongoProviderConfigs
from flowker.store.mongo.schema import prepare
from flowker.store.mongo.uri import client_options, redacted
from flowker.store.mongo.workflows import MongoWebhookRoutes, MongoWorkflows


class MongoStore:
    """The store of a cluster: database ``database`` of the MongoDB deployment at ``uri``.

    ``client``: an already built client with ``AsyncMongoClient``'s API (tests pass a fake); otherwise
    one is built with bounded timeouts and majority, journaled writes (:func:`client_options`).
    """

    def __init__(self, uri: str, database: str = "flowker", *, client: Any | None = None) -> None:
        if client is None:
            client = AsyncMongoClient(uri, **client_options(uri))
        self.uri = uri
        self.database = MongoDatabase(client, database, uri)
        self.workflows = MongoWorkflows(self.database)
        self.webhook_routes = MongoWebhookRoutes(self.database)
        self.executor_configs = MongoExecutorConfigs(self.database)
        self.provider_configs = MongoProviderConfigs(self.database)
        self.executions = MongoExecutions(self.database)
        self.breakers = MongoBreakerStates(self.database)
        self.audit = MongoAuditLog(self.database)
        self.checkpoints = MongoCheckpoints(self.database)

    def __repr__(self) -> str:
        return f"MongoStore({redacted(self.uri)!r}, {self.database.name!r})"

    async def open(self) -> MongoStore:
        """Create what is missing (collections, indexes), check and record the schema version."""
        await prepare(self.database)
        return self

    async def ping(self) -> None:
        """Raise (:class:`~flowker.errors.StoreUnavailable`) when the server does not answer."""
        await self.database.ping()

    async def close(self) -> None:
        await self.database.client.close()
