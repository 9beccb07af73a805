"""The embedded on-disk store (SQLite, WAL), the default when no MongoDB is configured."""

from flowker.store.embedded.store import EmbeddedStore

__all__ = ["EmbeddedStore"]
