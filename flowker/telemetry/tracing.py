"""OpenTelemetry traces: off by default; one trace per execution when on.

The front door and every actor set up their own exporter (OTLP over HTTP, :func:`setup`) from the same
settings. Context crosses process boundaries as a W3C ``traceparent`` carrier (:func:`carrier`,
:func:`parent`): in the argument of a supervisor's ``run`` and in each :class:`CallRequest`, and to
providers as the ``traceparent`` header. Span names follow the original's ``<layer>.<resource>.<operation>``
(``command.execution.execute``...). Attributes hold ids, names, status codes: never a secret, a body or
a header value.

With tracing off every span is the API's no-op span and no carrier is made, so the hot path pays a
function call.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from flowker.tunables import TRACE_EXPORT_DELAY_SECONDS

INSTRUMENTATION = "flowker"
#: Span names (the original's scheme).
HTTP_REQUEST = "http.server.request"
START_EXECUTION = "command.execution.start"
EXECUTE = "command.execution.execute"
EXECUTE_NODE = "command.execution.execute_executor_node"
EXECUTE_WITH_PROVIDER = "command.execution.execute_with_provider_config"
PROVIDER_REQUEST = "client.provider.request"

_propagator = TraceContextTextMapPropagator()
_provider: TracerProvider | None = None
_tracer: trace.Tracer = trace.NoOpTracer()


def setup(enabled: bool, endpoint: str | None, service_name: str, role: str) -> None:
    """Export this process's spans to ``endpoint`` (OTLP/HTTP) when ``enabled``; idempotent."""
    if not enabled or _provider is not None or not endpoint:
        return
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    install(
        BatchSpanProcessor(exporter, schedule_delay_millis=int(TRACE_EXPORT_DELAY_SECONDS * 1000)),
        service_name,
        role,
    )


def install(processor: SpanProcessor, service_name: str = "flowker", role: str = "process") -> None:
    """Record spans through ``processor`` from now on (tests give an in-memory exporter's)."""
    global _provider, _tracer
    provider = TracerProvider(resource=Resource.create({"service.name": service_name, "flowker.role": role}))
    provider.add_span_processor(processor)
    _provider, _tracer = provider, provider.get_tracer(INSTRUMENTATION)


def uninstall() -> None:
    """Stop recording (flushes what is pending)."""
    global _provider, _tracer
    if _provider is not None:
        _provider.shutdown()
    _provider, _tracer = None, trace.NoOpTracer()


def flush() -> None:
    """Export what is pending now."""
    if _provider is not None:
        _provider.force_flush()


def enabled() -> bool:
    """Whether spans are recorded in this process."""
    return _provider is not None


def tracer() -> trace.Tracer:
    """This process's tracer (a no-op one when tracing is off)."""
    return _tracer


def carrier() -> dict[str, str]:
    """The current span's context as W3C headers (``traceparent``); empty when tracing is off."""
    if _provider is None:
        return {}
    headers: dict[str, str] = {}
    _propagator.inject(headers)
    return headers


def parent(headers: Mapping[str, str] | None) -> Context | None:
    """The context a carrier names, to start a child span in; None without one."""
    if not headers or _provider is None:
        return None
    return _propagator.extract(dict(headers))
