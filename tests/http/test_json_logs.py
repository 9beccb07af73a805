"""JSON log lines of a run over the in-process runtime carry its request id and execution id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from flowker.telemetry.logs import JsonFormatter
from tests.helpers.client import ApiClient
from tests.helpers.metrics import run_one
from tests.helpers.stub_provider import StubProvider


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


async def test_the_lines_of_a_run_carry_its_ids(api: ApiClient, json_lines: io.StringIO) -> None:
    async with StubProvider() as provider:
        provider.route("POST", "/go", (200, {"ok": True}))
        run = await run_one(api, provider.url)
    assert run.status == "completed"
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    of_run = [line for line in lines if line.get("execution_id") == run.execution_id]
    # The provider is on loopback, which development mode allows with a warning: a line of the run.
    assert any("loopback" in line["message"] for line in of_run), lines
    assert all(line.get("request_id") for line in of_run)
