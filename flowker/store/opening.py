"""The one place a store adapter is chosen and opened: the front door and every actor open theirs here.

A :class:`StoreLocation` says which store and where; it is picklable, but the MongoDB URI (which may
hold a password) is kept out of its repr, and actors never receive it as an argument: they rebuild the
location from their :class:`~flowker.actors.config.RuntimeConfig` and the URI the front door published
(:mod:`flowker.actors.store_access`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flowker.errors import ConfigError
from flowker.settings import Settings
from flowker.store.ports import Store
from flowker.store.uri_masking import redacted

EMBEDDED = "embedded"
MONGODB = "mongodb"
STORE_KINDS = (EMBEDDED, MONGODB)


@dataclass(frozen=True)
class StoreLocation:
    """Which store to open: the embedded one in ``data_dir``, or MongoDB at ``uri``, database ``database``."""

    kind: str
    data_dir: str
    database: str = "flowker"
    uri: str | None = field(default=None, repr=False)
    #: ``development`` or ``production`` (a non-TLS MongoDB URI is refused in production).
    environment: str = "development"
    #: Whether a non-TLS MongoDB URI is allowed in production all the same.
    allow_insecure: bool = False

    def __post_init__(self) -> None:
        if self.kind not in STORE_KINDS:
            raise ConfigError(f"unknown store kind {self.kind!r}")
        if self.kind == MONGODB and not self.uri:
            raise ConfigError("the MongoDB store needs a URI (FLOWKER_MONGO_URI)")

    @property
    def shared_across_hosts(self) -> bool:
        """Whether processes on several machines see the same data (the embedded store is one file)."""
        return self.kind == MONGODB

    def describe(self) -> str:
        """One line for the operator, the URI's password masked."""
        if self.kind == MONGODB:
            return f"MongoDB at {redacted(self.uri or '')}, database {self.database}"
        return f"embedded, in {Path(self.data_dir).resolve()}"


def kind_for(mongo_uri: str | None) -> str:
    """MongoDB when a URI is configured, the embedded store otherwise."""
    return MONGODB if mongo_uri else EMBEDDED


async def open_store(location: StoreLocation) -> Store:
    """The opened store ``location`` names (close it when done)."""
    if location.kind == MONGODB:
        # Imported here: the driver loads only where MongoDB is used.
        from flowker.store.mongo import MongoStore, check_mongo_uri

        assert location.uri is not None
        check_mongo_uri(location.uri, location.environment, location.allow_insecure)
        store: Store = await MongoStore(location.uri, location.database).open()
        return store
    from flowker.store.embedded import EmbeddedStore

    return await EmbeddedStore(Path(location.data_dir)).open()


def location_from(settings: Settings) -> StoreLocation:
    """The store ``settings`` name (the front door's; actors rebuild theirs without the settings)."""
    return StoreLocation(
        kind=kind_for(settings.mongo_uri),
        data_dir=str(settings.data_dir.resolve()),
        database=settings.mongo_db,
        uri=settings.mongo_uri,
        environment=settings.environment,
        allow_insecure=settings.mongo_allow_insecure,
    )
