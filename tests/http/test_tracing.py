"""OpenTelemetry traces over the in-process runtime, recorded by the SDK's in-memory exporter: one
execution is one trace, from the front door's request to each provider request, which carries the
``traceparent`` of its span."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from flowker.cli import main
from flowker.errors import TelemetryRefused
from flowker.settings import Settings
from flowker.telemetry import tracing
from tests.helpers.client import ApiClient
from tests.helpers.metrics import run_one
from tests.helpers.stub_provider import StubProvider


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.install(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.uninstall()


def _one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def _parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_one_execution_is_one_trace_from_the_request_to_each_provider_request(
    api: ApiClient, spans: InMemorySpanExporter
) -> None:
    async with StubProvider() as provider:
        provider.route("POST", "/go", [(503, {"busy": True}), (200, {"ok": True})])
        run = await run_one(api, provider.url)
        sent = provider.calls("/go")
    assert run.status == "completed"
    recorded = list(spans.get_finished_spans())
    start = _one(recorded, tracing.START_EXECUTION)
    trace_id = start.context.trace_id
    mine = [s for s in recorded if s.context.trace_id == trace_id]
    request = next(
        s
        for s in mine
        if s.name == tracing.HTTP_REQUEST
        and s.attributes["http.route"] == "/v1/workflows/{workflowId}/executions"
    )
    execute = _one(mine, tracing.EXECUTE)
    node = _one(mine, tracing.EXECUTE_NODE)
    with_provider = _one(mine, tracing.EXECUTE_WITH_PROVIDER)
    attempts = sorted(
        (s for s in mine if s.name == tracing.PROVIDER_REQUEST), key=lambda s: s.start_time or 0
    )

    # The parent links: request > start > execute > node > call > each attempt.
    assert request.parent is None  # the client sent no traceparent
    assert _parent_of(start) == request.context.span_id
    assert _parent_of(execute) == start.context.span_id
    assert _parent_of(node) == execute.context.span_id
    assert _parent_of(with_provider) == node.context.span_id
    assert [_parent_of(a) for a in attempts] == [with_provider.context.span_id] * 2
    assert [a.attributes["http.response.status_code"] for a in attempts] == [503, 200]

    # What the spans say, and what they do not (ids, never bodies or credentials).
    assert start.attributes["flowker.execution_id"] == run.execution_id
    assert execute.attributes["flowker.status"] == "completed"
    assert node.attributes["flowker.executor_config_id"] == run.executor_id
    assert (
        with_provider.attributes["flowker.outcome"] == "ok"
        and with_provider.attributes["flowker.attempts"] == 2
    )

    # Each request to the provider carried the traceparent of its own attempt's span.
    parents = [r.headers["traceparent"].rsplit("-", 1)[0] for r in sent]  # without the flags
    assert parents == [f"00-{trace_id:032x}-{a.context.span_id:016x}" for a in attempts]


async def test_an_incoming_traceparent_is_the_parent_of_the_request_span(
    api: ApiClient, spans: InMemorySpanExporter
) -> None:
    trace_id, span_id = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    reply = await api.get("/v1/workflows", headers={"traceparent": f"00-{trace_id}-{span_id}-01"})
    assert reply.status == 200
    request = _one(list(spans.get_finished_spans()), tracing.HTTP_REQUEST)
    assert request.context.trace_id == int(trace_id, 16) and _parent_of(request) == int(span_id, 16)


async def test_probes_and_scrapes_make_no_span(anon: ApiClient, spans: InMemorySpanExporter) -> None:
    for path in ("/health", "/readyz", "/metrics"):
        assert (await anon.get(path)).status == 200
    assert list(spans.get_finished_spans()) == []


async def test_with_tracing_off_nothing_is_carried(api: ApiClient) -> None:
    assert not tracing.enabled() and tracing.carrier() == {}
    async with StubProvider() as provider:
        provider.route("POST", "/go", (200, {"ok": True}))
        run = await run_one(api, provider.url)
        assert run.status == "completed"
        assert "traceparent" not in provider.calls("/go")[0].headers


def test_tracing_on_without_an_endpoint_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(TelemetryRefused):
        Settings(otel_enabled=True)
    for name in ("FLOWKER_OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FLOWKER_OTEL_ENABLED", "1")
    assert main(["serve"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "FLOWKER_OTEL_ENDPOINT" in err


def test_the_endpoint_comes_from_either_variable() -> None:
    standard = Settings.from_env(
        {"FLOWKER_OTEL_ENABLED": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}
    )
    assert standard.otel_endpoint == "http://c:4318"
    own = Settings.from_env(
        {
            "FLOWKER_OTEL_ENABLED": "1",
            "FLOWKER_OTEL_ENDPOINT": "https://o:4318",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "x",
        }
    )
    assert own.otel_endpoint == "https://o:4318"


@pytest.mark.parametrize(
    "endpoint", ["collector:4318", "ftp://c:4318", "http://user:pw@c:4318", "http://c:4318/?token=abc"]
)
def test_an_endpoint_that_is_no_plain_url_is_refused(endpoint: str) -> None:
    from flowker.errors import ConfigError

    with pytest.raises(ConfigError, match="FLOWKER_OTEL_ENDPOINT"):
        Settings(otel_enabled=True, otel_endpoint=endpoint)
