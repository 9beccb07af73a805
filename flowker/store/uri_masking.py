"""A store's connection string fit for logs and messages: its password and secret-like options masked.

Apart from the MongoDB adapter so that showing a URI never loads the driver.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "********"
#: Query options whose value is masked too (``authMechanismProperties`` may carry an AWS session token).
_SECRET_OPTION_WORDS = ("password", "secret", "token", "key", "authmechanismproperties")


def redacted(uri: str) -> str:
    """``uri`` with its password (and any ``password=``-like query value) masked, for logs and messages."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hosts = netloc.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{MASK}@{hosts}" if colon else f"{user}@{hosts}"
    query = "&".join(_mask_query_item(item) for item in parts.query.split("&")) if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _mask_query_item(item: str) -> str:
    name, equals, _value = item.partition("=")
    secret = any(word in name.lower() for word in _SECRET_OPTION_WORDS)
    return f"{name}={MASK}" if equals and secret else item
