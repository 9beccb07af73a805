"""Flowker's own limits on a request's head, refused with an FLK body: the URL (414 FLK-0317), each header
line and the head as a whole, and the number of headers (431 FLK-0316).

aiohttp parses the head before any middleware runs and refuses, as a plain-text 400, a line over its
limit or too many headers. Its limits are therefore set well above these (:data:`PARSER_LIMITS`, passed
through the application's ``handler_args``), so that a client over Flowker's limits gets the FLK error
that says which limit; only a head over the parser's much larger limits still meets aiohttp's own 400.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from flowker.codes import REQUEST_HEAD_TOO_LARGE, URL_TOO_LONG
from flowker.errors import HeadersTooLarge, UriTooLong

MAX_URL_BYTES = 8 * 1024
MAX_HEADER_LINE_BYTES = 8 * 1024
MAX_HEADERS = 100
MAX_HEAD_BYTES = 32 * 1024
#: What aiohttp's parser allows: four times Flowker's limits.
PARSER_LIMITS = {"max_line_size": 4 * MAX_URL_BYTES, "max_field_size": 4 * MAX_HEADER_LINE_BYTES,
                 "max_headers": 4 * MAX_HEADERS}  # fmt: skip


def request_head_middleware() -> web.Middleware:
    """Refuse a request whose URL, header lines, head or header count are over Flowker's limits."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if len(request.raw_path) > MAX_URL_BYTES:
            raise UriTooLong(f"the URL is longer than {MAX_URL_BYTES} bytes", code=URL_TOO_LONG)
        headers = request.raw_headers
        if len(headers) > MAX_HEADERS:
            raise HeadersTooLarge(
                f"the request has more than {MAX_HEADERS} headers", code=REQUEST_HEAD_TOO_LARGE
            )
        total = 0
        for name, value in headers:
            line = len(name) + len(value) + 2
            if line > MAX_HEADER_LINE_BYTES:
                # The name only: it is plain (aiohttp checked it is a token); the value may be a key.
                raise HeadersTooLarge(
                    f"header {name.decode('ascii', 'replace')} is longer than {MAX_HEADER_LINE_BYTES} bytes",
                    code=REQUEST_HEAD_TOO_LARGE,
                )
            total += line
        if total > MAX_HEAD_BYTES:
            raise HeadersTooLarge(
                f"the request's headers are longer than {MAX_HEAD_BYTES} bytes in all",
                code=REQUEST_HEAD_TOO_LARGE,
            )
        return await handler(request)

    return middleware
