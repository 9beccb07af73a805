"""Which names hold credentials, and workflow data with their values masked.

One word list for every place that shows data an operator may not see in clear: provider request headers
and query parameters (:mod:`flowker.actors.transport`) and the values in an execution's step timeline (the
console). A name is sensitive when it contains one of the words, in any case.
"""

from __future__ import annotations

from typing import Any

from flowker.domain.authentication import MASK

SENSITIVE_WORDS = (
    "authorization",
    "api-key",
    "api_key",
    "apikey",
    "token",
    "secret",
    "password",
    "cookie",
)


def is_sensitive_name(name: str) -> bool:
    """Whether a header, parameter or key named ``name`` holds a credential."""
    lowered = name.lower()
    return any(word in lowered for word in SENSITIVE_WORDS)


def mask_sensitive(value: Any) -> Any:
    """A copy of ``value`` in which every value under a sensitive key, at any depth, reads ``********``."""
    if isinstance(value, dict):
        return {
            key: MASK if isinstance(key, str) and is_sensitive_name(key) else mask_sensitive(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [mask_sensitive(item) for item in value]
    return value
