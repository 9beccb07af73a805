"""``X-Request-Id``: reuse a sane incoming value or make one; echo it on every response."""

from __future__ import annotations

import re
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from flowker.http.keys import REQUEST_ID
from flowker.telemetry import logs

HEADER = "X-Request-Id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_middleware() -> web.Middleware:
    """Outermost middleware: every response, errors included, carries the request's id."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        incoming = request.headers.get(HEADER, "")
        # An id that could break a log line or a header is replaced, not echoed: fullmatch, because "$"
        # would let a trailing newline through, and the ASCII class refuses the surrogates that stand
        # for bytes that are not UTF-8.
        request[REQUEST_ID] = incoming if _SANE.fullmatch(incoming) else str(uuid.uuid4())
        # For the log lines written while it is handled (FLOWKER_LOG_FORMAT=json shows it).
        token = logs.REQUEST_ID.set(request[REQUEST_ID])
        try:
            response = await handler(request)
        finally:
            logs.REQUEST_ID.reset(token)
        response.headers[HEADER] = request[REQUEST_ID]
        return response

    return middleware
