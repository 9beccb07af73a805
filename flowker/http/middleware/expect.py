"""``Expect: 100-continue`` for every route, and no other expectation ever an error.

aiohttp answers ``Expect`` before any middleware runs: its default handler refuses anything but
``100-continue`` with a text 417 that quotes the value, and a value with bytes that are not UTF-8 makes
that refusal itself fail with a 500. This handler sends ``100 Continue`` when asked and ignores any
other expectation, which RFC 9110 section 10.1.1 allows (a server *may* answer 417): the request is
then answered by the routes and middleware like any other, JSON errors and ``X-Request-Id`` included.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


async def expect_handler(request: web.Request) -> None:
    """Send ``100 Continue`` for ``Expect: 100-continue`` on HTTP/1.1, as aiohttp's default does."""
    expectation = request.headers.get(hdrs.EXPECT, "")
    if request.version == HttpVersion11 and expectation.strip().lower() == "100-continue":
        await request.writer.write(CONTINUE)
        # The interim response is not the response: handlers may still start theirs (aiohttp does the same).
        request.writer.output_size = 0


def with_expect_handler(table: Iterable[web.AbstractRouteDef]) -> list[web.AbstractRouteDef]:
    """The route definitions of ``table``, each with :func:`expect_handler` unless it names its own."""
    return [
        web.RouteDef(d.method, d.path, d.handler, {"expect_handler": expect_handler, **d.kwargs})
        if isinstance(d, web.RouteDef)
        else d
        for d in table
    ]
