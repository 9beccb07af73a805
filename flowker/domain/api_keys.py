"""The API keys the front door accepts: plain or SHA-256-hashed, each with a scope, matched in constant time.

An entry of ``FLOWKER_API_KEYS`` is ``[read:|full:]KEY`` or ``[read:|full:]sha256:HEX``:

* ``KEY``: the key itself, at least 16 characters;
* ``sha256:HEX``: the 64 hex digits of the key's SHA-256, so that the server need not hold the key;
* ``read:`` makes a read-only key (GET, HEAD and OPTIONS only); ``full:`` (the default) may do everything.

Every presented key is hashed and its digest compared with every configured digest
(:func:`hmac.compare_digest`), so neither the time taken nor the key's length tells which key nearly
matched. A key's id (``key-`` and 12 hex digits of its SHA-256) names it in logs and audit records.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from flowker.errors import ConfigError

#: Shorter keys are refused: an API key guards payment flows, so it must not be guessable.
MIN_API_KEY_LENGTH = 16
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
#: Methods a read-only key may use.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Scope(StrEnum):
    """What a key may do."""

    READ = "read"
    FULL = "full"


@dataclass(frozen=True, repr=False)
class ApiKey:
    """One accepted key: its SHA-256 digest and scope (the key itself is not kept)."""

    digest: bytes
    scope: Scope = Scope.FULL

    @property
    def id(self) -> str:
        """``key-`` and the first 12 hex digits of the key's SHA-256: safe to log and audit."""
        return "key-" + self.digest.hex()[:12]

    def allows(self, method: str) -> bool:
        """Whether this key may make a request with ``method``."""
        return self.scope is Scope.FULL or method.upper() in READ_METHODS

    def __repr__(self) -> str:
        return f"ApiKey(id={self.id!r}, scope={self.scope.value!r})"


def digest_of(presented: bytes) -> bytes:
    """The SHA-256 of a key's bytes."""
    return hashlib.sha256(presented).digest()


def parse_api_key(entry: str, position: int = 1) -> ApiKey:
    """One ``FLOWKER_API_KEYS`` entry.

    Raises:
        ConfigError: A key shorter than 16 characters or a malformed digest; the message names the
            entry's position, never its value.
    """
    text = entry.strip()
    scope = Scope.FULL
    for candidate in Scope:
        if text.startswith(candidate.value + ":"):
            scope, text = candidate, text[len(candidate.value) + 1 :]
            break
    if text.startswith("sha256:"):
        hexdigest = text[len("sha256:") :]
        if not _HEX_DIGEST.fullmatch(hexdigest):
            raise ConfigError(f"FLOWKER_API_KEYS: key #{position} is not sha256: and 64 hex digits")
        return ApiKey(bytes.fromhex(hexdigest), scope)
    if len(text) < MIN_API_KEY_LENGTH:
        raise ConfigError(
            f"FLOWKER_API_KEYS: key #{position} is shorter than {MIN_API_KEY_LENGTH} characters"
        )
    return ApiKey(digest_of(text.encode("utf-8", "surrogateescape")), scope)


def key_id(key: str) -> str:
    """The id of a plain key (see :attr:`ApiKey.id`)."""
    return ApiKey(digest_of(key.encode("utf-8", "surrogateescape"))).id


def parse_api_keys(entries: Iterable[str]) -> tuple[ApiKey, ...]:
    """Every entry, checked; see :func:`parse_api_key`."""
    return tuple(parse_api_key(entry, position) for position, entry in enumerate(entries, 1))


class KeyRing:
    """The configured keys; :meth:`match` finds the one a request presents."""

    def __init__(self, keys: Iterable[ApiKey]) -> None:
        self._keys = tuple(keys)

    def match(self, presented: bytes) -> ApiKey | None:
        """The key whose digest equals the presented key's, comparing with every key every time."""
        digest = digest_of(presented)
        matched = None
        for key in self._keys:
            if hmac.compare_digest(digest, key.digest):
                matched = key
        return matched
