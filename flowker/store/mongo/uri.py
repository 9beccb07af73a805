"""The MongoDB connection string: TLS policy, the client's defaults, and a form fit for logs.

Pure (the standard library only): settings validation may call it without importing the driver.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from flowker.errors import ConfigError
from flowker.store.uri_masking import redacted
from flowker.tunables import (
    MONGO_CONNECT_TIMEOUT_SECONDS,
    MONGO_SERVER_SELECTION_TIMEOUT_SECONDS,
    MONGO_SOCKET_TIMEOUT_SECONDS,
)

PRODUCTION = "production"
_SCHEMES = ("mongodb://", "mongodb+srv://")


def uri_options(uri: str) -> dict[str, str]:
    """The query options of ``uri``, names lower-cased (MongoDB's option names are case-insensitive)."""
    query = uri.split("?", 1)[1] if "?" in uri else ""
    return {name.lower(): value for name, value in parse_qsl(query, keep_blank_values=True)}


def uses_tls(uri: str) -> bool:
    """Whether the connection is encrypted: ``mongodb+srv://`` (TLS by default) unless it turns TLS off,
    or ``tls=true`` / ``ssl=true``."""
    options = uri_options(uri)
    flags = [options[name].strip().lower() for name in ("tls", "ssl") if name in options]
    if uri.lower().startswith("mongodb+srv://"):
        return "false" not in flags
    return "true" in flags and "false" not in flags


def check_mongo_uri(uri: str, environment: str, allow_insecure: bool) -> None:
    """Refuse a URI that is not MongoDB's, and in production mode one without TLS unless allowed.

    :raises ConfigError: naming the URI with its password masked.
    """
    if not uri.lower().startswith(_SCHEMES):
        raise ConfigError(
            f"FLOWKER_MONGO_URI {redacted(uri)!r} does not start with mongodb:// or mongodb+srv://"
        )
    if environment == PRODUCTION and not allow_insecure and not uses_tls(uri):
        raise ConfigError(
            f"FLOWKER_MONGO_URI {redacted(uri)!r} does not use TLS: production mode needs tls=true "
            "(or mongodb+srv://), or FLOWKER_MONGO_ALLOW_INSECURE=true to accept an unencrypted connection"
        )


def client_options(uri: str) -> dict[str, Any]:
    """The keyword arguments of ``AsyncMongoClient``: bounded timeouts (an operation fails in seconds, it
    never hangs), retryable reads and writes, majority write concern with journaling, majority reads.

    An option the URI sets itself is left to the URI (TLS options always are: none is set here).
    """
    defaults: dict[str, Any] = {
        "serverSelectionTimeoutMS": int(MONGO_SERVER_SELECTION_TIMEOUT_SECONDS * 1000),
        "connectTimeoutMS": int(MONGO_CONNECT_TIMEOUT_SECONDS * 1000),
        "socketTimeoutMS": int(MONGO_SOCKET_TIMEOUT_SECONDS * 1000),
        "retryWrites": True,
        "retryReads": True,
        "w": "majority",
        "journal": True,
        "readConcernLevel": "majority",
        "appname": "flowker",
    }
    given = uri_options(uri)
    aliases = {"journal": ("journal", "j")}
    return {
        name: value
        for name, value in defaults.items()
        if not any(alias.lower() in given for alias in aliases.get(name, (name,)))
    }
