"""Every failure becomes JSON ``{"code", "title", "message"}``; nothing a client sends produces a 500.

A 500 means a bug: it is logged with the request id and its message says nothing of the cause.
What a client sends is never logged at ERROR, not even a request aiohttp refuses before any middleware
runs (see :class:`ProtocolLog`).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from aiohttp import web
from aiohttp.http import HttpProcessingError
from aiohttp.typedefs import Handler

from flowker.codes import BAD_BODY
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
        except web.RequestPayloadError:
            # The body does not decode as its Content-Encoding says, or its chunked framing is broken.
            error = BadRequest(
                "invalid request body: it does not decode as its Content-Encoding and "
                "Transfer-Encoding headers say",
                code=BAD_BODY,
            )
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


class ProtocolLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log, with the requests it refuses as malformed logged at INFO, without their bytes.

    aiohttp answers a request it cannot parse (a control character or an invalid token in a header, a
    line over its limit, an unsupported Content-Encoding) with 400 before any middleware runs, and logs
    the refusal at ERROR with a traceback whose message quotes the offending line, which may be the
    ``X-API-Key`` header. A client's malformed request is not a server error, and its bytes do not
    belong in the log: such refusals are logged at INFO by exception class only. Everything else goes
    to aiohttp's logger unchanged. Installed through the application's ``handler_args``.
    """

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kwargs: Any) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1]
        if _malformed_request(error):
            # aiohttp's own message and arguments (the peer's address), plus the exception's class.
            self.logger.info(f"{msg}: refused a malformed request (%s)", *args, type(error).__name__)
            return
        self.logger.exception(msg, *args, exc_info=exc_info, **kwargs)


def _malformed_request(error: BaseException | None) -> bool:
    if isinstance(error, web.RequestPayloadError):
        return True
    return isinstance(error, HttpProcessingError) and 400 <= error.code < 500
