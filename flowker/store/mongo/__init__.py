"""The MongoDB store (PyMongo's ``AsyncMongoClient``), for several machines sharing one store."""

from flowker.store.mongo.store import MongoStore
from flowker.store.mongo.uri import check_mongo_uri, redacted

__all__ = ["MongoStore", "check_mongo_uri", "redacted"]
