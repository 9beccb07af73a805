"""A server span per request (``http.server.request``) when tracing is on, child of the client's
``traceparent`` if it sent one; the spans of what the request starts (an execution) are its children.
``/health``, ``/readyz`` and ``/metrics`` make none: probes and scrapes are not traffic."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from opentelemetry.trace import SpanKind

from flowker.http.keys import REQUEST_ID
from flowker.telemetry import tracing

_UNTRACED = frozenset({"/health", "/readyz", "/health/live", "/health/ready", "/metrics"})


def tracing_middleware() -> web.Middleware:
    """Place it inside the request id middleware (the span carries the request's id)."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not tracing.enabled() or request.path in _UNTRACED:
            return await handler(request)
        resource = request.match_info.route.resource
        with tracing.tracer().start_as_current_span(
            tracing.HTTP_REQUEST,
            context=tracing.parent({"traceparent": request.headers.get("traceparent", "")}),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": request.method,
                "http.route": resource.canonical if resource is not None else "unmatched",
                "flowker.request_id": request.get(REQUEST_ID, ""),
            },
        ) as span:
            status = 500
            try:
                response = await handler(request)
                status = response.status
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                span.set_attribute("http.response.status_code", status)

    return middleware
