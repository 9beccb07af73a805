"""Front-door request metrics: count and duration by method, route template and status class.

The route template (``/v1/executions/{id}``), never the path, so that ids do not make new series; a
request no route matched is ``unmatched``, and a method outside the usual ones is ``other``.
"""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler

from flowker.telemetry import catalog
from flowker.telemetry.recorder import RECORDER, Recorder

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_metrics_middleware(recorder: Recorder = RECORDER) -> web.Middleware:
    """Records every answer, error answers included (place it outside the errors middleware)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        began = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            method = request.method if request.method in _METHODS else "other"
            route = _template(request)
            recorder.inc(catalog.HTTP_REQUESTS, method, route, f"{status // 100}xx")
            recorder.observe(catalog.HTTP_REQUEST_SECONDS, method, route, value=time.perf_counter() - began)

    return middleware


def _template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    return resource.canonical
