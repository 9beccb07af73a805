"""OpenTelemetry on the real runtime: the front door, the supervisor and the executor actor each export
their spans (OTLP over HTTP) to a collector on 127.0.0.1, and one execution's spans form one trace whose
parent links cross the Ray calls: in the default shape (a lone start runs in the front door) and with the
run on the other side of Ray too (a supervisor runs it)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from flowker.settings import Settings
from flowker.telemetry import tracing
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.helpers.metrics import run_one
from tests.helpers.otlp_collector import OtlpCollector, ReceivedSpan
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider


@pytest.fixture
async def collector() -> AsyncIterator[OtlpCollector]:
    async with OtlpCollector() as running:
        yield running


#: Where each span of the trace comes from: start, execute, node, provider call, attempt. The first call
#: of a process goes through the executor actor even with direct calls on (it has no lease yet).
SHAPES = {
    "front-door": (4, True, ("front-door", "front-door", "front-door", "executor", "executor")),
    "across-ray": (0, False, ("front-door", "supervisor", "supervisor", "executor", "executor")),
}


@pytest.fixture(params=list(SHAPES))
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path, collector: OtlpCollector, shape: str) -> Iterator[Settings]:
    front_door_runs, direct_calls, _roles = SHAPES[shape]
    configured = Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY,),
        retry_backoff_seconds=0.01,
        otel_enabled=True,
        otel_endpoint=collector.url,
        otel_service_name="flowker-test",
        front_door_runs=front_door_runs,
        direct_calls=direct_calls,
    )
    # The front door is this process: it exports too, as flowker serve's does.
    tracing.setup(True, collector.url, "flowker-test", "front-door")
    yield configured
    tracing.uninstall()


async def test_one_execution_is_one_trace_across_the_actors(
    api: ApiClient, collector: OtlpCollector, shape: str
) -> None:
    async with StubProvider() as provider:
        provider.route("POST", "/go", (200, {"ok": True}))
        run = await run_one(api, provider.url)
        sent = provider.calls("/go")
    assert run.status == "completed"
    tracing.flush()

    def trace_of(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        starts = [s for s in spans if s.name == tracing.START_EXECUTION]
        if not starts:
            return []
        return [s for s in spans if s.trace_id == starts[0].trace_id]

    names = {tracing.HTTP_REQUEST, tracing.START_EXECUTION, tracing.EXECUTE, tracing.EXECUTE_NODE,
             tracing.EXECUTE_WITH_PROVIDER, tracing.PROVIDER_REQUEST}  # fmt: skip
    spans = await eventually(
        lambda: _now(trace_of(collector.spans)), lambda found: names <= {s.name for s in found}, within=30
    )
    by_name = {s.name: s for s in spans}
    start, execute = by_name[tracing.START_EXECUTION], by_name[tracing.EXECUTE]
    node, call = by_name[tracing.EXECUTE_NODE], by_name[tracing.EXECUTE_WITH_PROVIDER]
    attempt = by_name[tracing.PROVIDER_REQUEST]
    # Each from the process that did the work, linked across the Ray calls.
    assert (start.role, execute.role, node.role, call.role, attempt.role) == SHAPES[shape][2]
    assert execute.parent_span_id == start.span_id
    assert node.parent_span_id == execute.span_id
    assert call.parent_span_id == node.span_id
    assert attempt.parent_span_id == call.span_id
    assert execute.attributes["flowker.execution_id"] == run.execution_id
    assert sent[0].headers["traceparent"].startswith(f"00-{attempt.trace_id}-{attempt.span_id}-")


async def _now(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return spans
