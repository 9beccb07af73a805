"""CORS for browser clients of configured origins; none are allowed unless configured.

No credentials are ever allowed; preflight answers are cached by browsers for an hour.
"""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from flowker.errors import Forbidden
from flowker.http.middleware.headers import shown
from flowker.http.render import json_response

ALLOWED_METHODS = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOWED_HEADERS = "Content-Type, Accept, Authorization, X-Request-Id, X-API-Key, Idempotency-Key, Prefer"
EXPOSED_HEADERS = "X-Request-Id"
PREFLIGHT_MAX_AGE = "3600"


def cors_middleware(*, allowed_origins: Collection[str]) -> web.Middleware:
    """Answer preflights and mark responses to allowed origins."""
    allow_all = "*" in allowed_origins

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get(hdrs.ORIGIN)
        if origin is None:
            return await handler(request)
        # Exact comparison with the configured origins: an origin with bytes that are not UTF-8 matches
        # none of them, and only a configured origin (or "*") is ever echoed in a header.
        allowed = allow_all or origin in allowed_origins
        preflight = request.method == "OPTIONS" and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        if preflight and not allowed:
            error = Forbidden(f"origin '{shown(origin)}' is not allowed")
            response: web.StreamResponse = json_response(error.to_dict(), status=error.status)
        elif preflight:
            response = web.Response(status=204)
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_METHODS] = ALLOWED_METHODS
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_HEADERS] = ALLOWED_HEADERS
            response.headers[hdrs.ACCESS_CONTROL_MAX_AGE] = PREFLIGHT_MAX_AGE
        else:
            response = await handler(request)
        if allowed:
            response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = "*" if allow_all else origin
            response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSED_HEADERS
        response.headers.add(hdrs.VARY, "Origin")
        return response

    return middleware
