"""``X-API-Key`` on every ``/v1`` route: a configured key (compared in constant time), with the scope for
the request's method; repeated failures from one address are slowed down and audited once per window.

Handlers see the key's id (a short hash, safe to log and audit), never the key. The bytes the client
sent are compared: a value that is not UTF-8 is simply a wrong key, never an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import NoReturn

from aiohttp import web
from aiohttp.typedefs import Handler

from flowker.codes import METHOD_OR_ORIGIN_NOT_ALLOWED
from flowker.domain.api_keys import ApiKey, KeyRing, Scope
from flowker.errors import Forbidden, Unauthorized
from flowker.http.auth_throttle import AuthThrottle
from flowker.http.keys import API_KEY_ID
from flowker.http.middleware.headers import raw_bytes, shown

HEADER = "X-API-Key"
PROTECTED_PREFIX = "/v1"
#: Any method here starts an execution: a read-only key may not, even with GET.
WEBHOOKS_PREFIX = "/v1/webhooks/"
log = logging.getLogger("flowker.http")

#: Told of an address's first failed attempt in a window: ``(address, method, path)``.
OnRejected = Callable[[str, str, str], Awaitable[None]]


def api_key_middleware(
    *,
    keys: Sequence[ApiKey],
    throttle: AuthThrottle | None = None,
    on_rejected: OnRejected | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> web.Middleware:
    """Refuse ``/v1`` requests without a valid key (401 UNAUTHORIZED), and writes with a read-only key
    (403 FLK-0401)."""
    ring = KeyRing(keys)
    throttle = AuthThrottle() if throttle is None else throttle
    reports: set[asyncio.Task[None]] = set()

    async def reject(request: web.Request) -> NoReturn:
        address = request.remote or "unknown"
        verdict = throttle.failed(address, clock())
        if verdict.first_in_window and on_rejected is not None:
            # Not awaited: a guesser must not be answered faster or slower by how the audit writer does.
            task = asyncio.ensure_future(on_rejected(address, request.method, shown(request.path, 200)))
            reports.add(task)
            task.add_done_callback(_reported(reports))
        if verdict.delay:
            await asyncio.sleep(verdict.delay)
        raise Unauthorized("API Key missing or invalid")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == PROTECTED_PREFIX or request.path.startswith(PROTECTED_PREFIX + "/"):
            key = ring.match(raw_bytes(request.headers.get(HEADER, "")))
            if key is None:
                await reject(request)
            if not key.allows(request.method):
                raise Forbidden(
                    f"API key {key.id} is read-only: {request.method} is not allowed",
                    code=METHOD_OR_ORIGIN_NOT_ALLOWED,
                )
            if key.scope is not Scope.FULL and request.path.startswith(WEBHOOKS_PREFIX):
                raise Forbidden(
                    f"API key {key.id} is read-only: a webhook starts an execution",
                    code=METHOD_OR_ORIGIN_NOT_ALLOWED,
                )
            request[API_KEY_ID] = key.id
        return await handler(request)

    return middleware


def _reported(reports: set[asyncio.Task[None]]) -> Callable[[asyncio.Task[None]], None]:
    def done(task: asyncio.Task[None]) -> None:
        reports.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("a failed authentication could not be audited (%s)", type(task.exception()).__name__)

    return done
