"""Every failure becomes JSON ``{"code", "title", "message"}``; nothing a client sends produces a 500.

A 500 means a bug: it is logged with the request id and its message says nothing of the cause.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from flowker.errors import (
    BadRequest,
    FlowkerError,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
)
from flowker.http.keys import REQUEST_ID
from flowker.http.render import json_response

log = logging.getLogger("flowker.http")


def errors_middleware(*, max_body_bytes: int) -> web.Middleware:
    """Render :class:`FlowkerError` and aiohttp's own HTTP errors as Flowker error bodies."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except FlowkerError as exc:
            error = exc
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            error = _translate(request, exc, max_body_bytes)
        except Exception:
            log.exception(
                "unhandled error in %s %s (request %s)", request.method, request.path, request.get(REQUEST_ID)
            )
            error = InternalError("internal error; the request id identifies it in the server log")
        return json_response(error.to_dict(), status=error.status, headers=error.headers)

    return middleware


def _translate(request: web.Request, exc: web.HTTPException, max_body_bytes: int) -> FlowkerError:
    if isinstance(exc, web.HTTPNotFound):
        return NotFound(f"no route for {request.method} {request.path[:200]}")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return MethodNotAllowed(
            f"{request.method} is not allowed on {request.path[:200]} (allowed: {allowed})",
            headers={"Allow": allowed},
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return PayloadTooLarge(f"request body exceeds {max_body_bytes} bytes")
    if exc.status < 500:
        return BadRequest(exc.reason or "bad request")
    return InternalError("internal error")
