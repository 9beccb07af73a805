"""``GET /metrics`` over the in-process runtime: the series a run leaves, and who may read them."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from aiohttp import web

from flowker import codes
from flowker.http.app import create_app
from flowker.http.keys import Services
from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.helpers.metrics import Scrape, run_one, scrape
from tests.helpers.stub_provider import StubProvider

METRICS_KEY = "metrics-key-0123456789abcdef"


@asynccontextmanager
async def front_door(settings: Settings, services: Services) -> AsyncIterator[str]:
    runner = web.AppRunner(create_app(settings, services, settings.api_keys))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


async def _status(url: str, headers: dict[str, str]) -> int:
    async with aiohttp.ClientSession() as session, session.get(url + "/metrics", headers=headers) as reply:
        return reply.status


async def test_a_run_leaves_its_series(api: ApiClient, anon: ApiClient) -> None:
    async with StubProvider() as provider:
        provider.route("POST", "/go", [(503, {"busy": True}), (200, {"ok": True})])
        run = await run_one(api, provider.url)
    assert run.status == "completed"
    found = await scrape(anon)
    assert found.value("flowker_executions_started_total", workflow_id=run.workflow_id) == 1
    assert (
        found.value("flowker_executions_finished_total", workflow_id=run.workflow_id, status="completed") == 1
    )
    assert found.value("flowker_executions_finished_total", workflow_id=run.workflow_id, status="failed") == 0
    ex = run.executor_id
    assert found.value("flowker_step_duration_seconds_count", executor_config_id=ex, outcome="success") == 1
    assert found.value("flowker_provider_calls_total", executor_config_id=ex, outcome="ok") == 1
    assert found.value("flowker_provider_requests_total", executor_config_id=ex, outcome="5xx") == 1
    assert found.value("flowker_provider_requests_total", executor_config_id=ex, outcome="2xx") == 1
    assert found.value("flowker_provider_request_duration_seconds_count", executor_config_id=ex) == 2
    assert found.value("flowker_provider_retries_total", executor_config_id=ex) == 1
    assert found.value("flowker_audit_events_appended_total") > 0
    assert found.value("flowker_audit_append_duration_seconds_count") > 0
    started = found.value(
        "flowker_http_requests_total",
        method="POST",
        route="/v1/workflows/{workflowId}/executions",
        status_class="2xx",
    )
    assert started >= 1
    # A route template, never a path with an id in it.
    assert run.execution_id not in found.text and "/v1/executions/{id}" in found.text


async def test_a_failed_step_is_counted_with_its_code(api: ApiClient, anon: ApiClient) -> None:
    async with StubProvider() as provider:
        provider.route("POST", "/go", (400, {"bad": True}))
        run = await run_one(api, provider.url)
    assert run.status == "failed"
    found = await scrape(anon)
    assert found.value("flowker_executions_finished_total", workflow_id=run.workflow_id, status="failed") == 1
    ex = run.executor_id
    assert found.value("flowker_step_duration_seconds_count", executor_config_id=ex, outcome="failure") == 1
    outcomes = {
        s.labels["outcome"]: s.value
        for s in found.samples
        if s.name == "flowker_provider_calls_total" and s.labels["executor_config_id"] == ex
    }
    assert outcomes == {codes.PROVIDER_FAILED: 1}, outcomes
    assert found.value("flowker_provider_requests_total", executor_config_id=ex, outcome="4xx") == 1
    assert found.value("flowker_provider_retries_total", executor_config_id=ex) == 0


async def test_unmatched_paths_are_one_series(anon: ApiClient) -> None:
    for path in ("/nowhere-1", "/nowhere-2"):
        assert (await anon.get(path)).status == 404
    found = await scrape(anon)
    assert found.value("flowker_http_requests_total", route="unmatched", status_class="4xx") >= 2
    assert "/nowhere-1" not in found.text


async def test_in_development_metrics_are_open_like_health(anon: ApiClient) -> None:
    found = await scrape(anon)
    assert isinstance(found, Scrape) and found.has("flowker_scrape_sources")


async def test_with_a_metrics_key_only_that_key_opens_them(settings: Settings, services: Services) -> None:
    keyed = dataclasses.replace(settings, metrics_key=METRICS_KEY)
    async with front_door(keyed, services) as url:
        assert await _status(url, {}) == 401
        assert await _status(url, {"X-API-Key": API_KEY}) == 401
        assert await _status(url, {"Authorization": "Bearer wrong-key-0123456789"}) == 401
        assert await _status(url, {"Authorization": f"Basic {METRICS_KEY}"}) == 401
        assert await _status(url, {"Authorization": f"Bearer {METRICS_KEY}"}) == 200
        assert await _status(url, {"Authorization": f"bearer {METRICS_KEY}"}) == 200
        assert await _status(url, {"X-API-Key": METRICS_KEY}) == 200


async def test_in_production_without_a_metrics_key_an_api_key_is_needed(
    settings: Settings, services: Services
) -> None:
    production = dataclasses.replace(
        settings, environment="production", trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),)
    )
    async with front_door(production, services) as url:
        headers = {"X-Forwarded-Proto": "https"}
        assert await _status(url, headers) == 401
        assert await _status(url, {**headers, "X-API-Key": "not-a-key"}) == 401
        assert await _status(url, {**headers, "X-API-Key": API_KEY}) == 200


def test_the_metrics_key_is_checked_and_never_shown() -> None:
    import pytest

    from flowker.errors import ConfigError

    with pytest.raises(ConfigError, match="FLOWKER_METRICS_KEY"):
        Settings.from_env({"FLOWKER_METRICS_KEY": "short"})
    settings = Settings.from_env({"FLOWKER_METRICS_KEY": METRICS_KEY})
    assert settings.metrics_key == METRICS_KEY and METRICS_KEY not in repr(settings)


async def test_a_runtime_that_cannot_be_asked_leaves_the_front_doors_series() -> None:
    from flowker.usecases.metrics import Metrics

    class Down:
        async def snapshots(self) -> object:
            raise ConnectionError("ray is down")

    found = Scrape((await Metrics(Down()).scrape()).decode())  # type: ignore[arg-type]
    assert found.value("flowker_scrape_errors_total", actor_kind="runtime") >= 1
    assert found.value("flowker_scrape_sources") == 1
