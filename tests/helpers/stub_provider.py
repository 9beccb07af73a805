"""A scriptable provider on 127.0.0.1 for Flowker's tests: it records every request and answers from a script.

::

    async with StubProvider() as stub:
        stub.route("POST", "/v1/kyc/validate", [(503, {"error": "busy"}), (200, {"decision": "ALLOW"})])
        ...  # call stub.url + "/v1/kyc/validate"
        assert len(stub.calls("/v1/kyc/validate")) == 2

A reply is ``(status, body)`` or ``(status, body, headers)``. ``body`` is sent as JSON unless it is
``str`` (text), ``bytes`` (raw) or ``None`` (empty); ``headers`` is a mapping or a list of ``(name, value)``
pairs, the latter to repeat a header. A ``Content-Type`` in ``headers`` overrides the one the body implies.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web
from multidict import CIMultiDict, MultiDict

Headers = Mapping[str, str] | Sequence[tuple[str, str]]
Reply = tuple[int, Any] | tuple[int, Any, Headers]
Handler = Callable[[Any, web.Request], Awaitable[Reply] | Reply]
Script = Reply | list[Reply] | Handler


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the stub received it.

    Attributes:
        method: The HTTP method.
        path: The path, without the query string.
        query: The query parameters, decoded; a repeated one keeps its last value.
        query_string: The query string as sent, still encoded.
        headers: The headers; lookups ignore case.
        raw: The body bytes.
        json: The body parsed as JSON, or ``None`` when it is empty or not JSON.
        received_at: ``time.monotonic()`` when the request arrived, before any route delay.
        raw_path: The path as sent, still percent-encoded.
    """

    method: str
    path: str
    query: dict[str, str]
    query_string: str
    headers: CIMultiDict[str]
    raw: bytes
    json: Any
    received_at: float
    raw_path: str = ""


@dataclass
class _Route:
    script: Script
    delay: float
    served: int = field(default=0)

    async def reply(self, payload: Any, request: web.Request) -> Reply:
        if isinstance(self.script, tuple):
            return self.script
        if isinstance(self.script, list):
            reply = self.script[min(self.served, len(self.script) - 1)]
            self.served += 1
            return reply
        result = self.script(payload, request)
        return await result if inspect.isawaitable(result) else result


class StubProvider:
    """An aiohttp provider on an ephemeral port of 127.0.0.1, started on the running event loop.

    Unscripted routes answer 404. The listen backlog is deep enough for a few thousand concurrent clients.
    """

    def __init__(self, *, backlog: int = 4096) -> None:
        self.requests: list[RecordedRequest] = []
        self._routes: dict[tuple[str, str], _Route] = {}
        self._backlog = backlog
        self._runner: web.AppRunner | None = None
        self.url = ""

    def route(self, method: str, path: str, script: Script, *, delay: float = 0.0) -> None:
        """Answer ``method path`` from ``script``, replacing any earlier script for it.

        Args:
            method: The HTTP method.
            path: The exact path, without query string.
            script: A reply; a list of replies served in order, the last repeating; or a callable
                ``(request_json, request) -> reply``, sync or async.
            delay: Seconds to wait before answering.
        """
        self._routes[(method.upper(), path)] = _Route(script, delay)

    def calls(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        """The recorded requests to ``path`` (and ``method``, when given), oldest first."""
        return [r for r in self.requests if r.path == path and (method is None or r.method == method.upper())]

    def reset(self) -> None:
        """Forget every recorded request and every route."""
        self.requests.clear()
        self._routes.clear()

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # In-flight delayed replies need no graceful drain when a test ends.
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=self._backlog)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        received_at = time.monotonic()
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = None
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                query_string=request.rel_url.raw_query_string,
                headers=request.headers.copy(),
                raw=raw,
                json=payload,
                received_at=received_at,
                raw_path=request.rel_url.raw_path,
            )
        )
        route = self._routes.get((request.method, request.path))
        if route is None:
            return web.json_response({"error": f"no route for {request.method} {request.path}"}, status=404)
        reply = await route.reply(payload, request)
        if route.delay:
            await asyncio.sleep(route.delay)
        return _response(reply)


def _response(reply: Reply) -> web.Response:
    status, body = reply[0], reply[1]
    given = reply[2] if len(reply) > 2 else ()
    headers: MultiDict[str] = MultiDict(given.items() if isinstance(given, Mapping) else given)
    if body is None:
        data, content_type = b"", None
    elif isinstance(body, bytes):
        data, content_type = body, "application/octet-stream"
    elif isinstance(body, str):
        data, content_type = body.encode(), "text/plain; charset=utf-8"
    else:
        data, content_type = json.dumps(body).encode(), "application/json"
    if content_type and not any(k.lower() == "content-type" for k in headers):
        headers["Content-Type"] = content_type
    return web.Response(status=status, body=data, headers=headers)
