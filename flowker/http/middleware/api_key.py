"""``X-API-Key`` on every ``/v1`` route, compared in constant time against each configured key.

Several keys may be valid at once so that a key can be rotated without downtime. Handlers see the
key's id (a short hash, safe to log and audit), never the key. The bytes the client sent are compared:
a value that is not UTF-8 is simply a wrong key, never an error.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler

from flowker.errors import Unauthorized
from flowker.http.keys import API_KEY_ID
from flowker.http.middleware.headers import raw_bytes

HEADER = "X-API-Key"
PROTECTED_PREFIX = "/v1"


def key_id(key: str) -> str:
    """A stable, non-reversible name for a key: ``key-`` and 12 hex digits of its SHA-256."""
    return "key-" + hashlib.sha256(raw_bytes(key)).hexdigest()[:12]


def api_key_middleware(*, keys: Sequence[str]) -> web.Middleware:
    """Refuse ``/v1`` requests without a valid key (401 UNAUTHORIZED)."""
    encoded = [(raw_bytes(k), key_id(k)) for k in keys]

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == PROTECTED_PREFIX or request.path.startswith(PROTECTED_PREFIX + "/"):
            presented = raw_bytes(request.headers.get(HEADER, ""))
            matched = None
            # Every key is compared, so the time taken says nothing about which one nearly matched.
            for key, name in encoded:
                if hmac.compare_digest(presented, key):
                    matched = name
            if matched is None:
                raise Unauthorized("API Key missing or invalid")
            request[API_KEY_ID] = matched
        return await handler(request)

    return middleware
