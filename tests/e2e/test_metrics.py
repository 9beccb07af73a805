"""``GET /metrics`` on the real runtime: after runs, the series of the supervisors, the executor actors and
the audit actor (other processes) are in the front door's scrape, with the right counts."""

from __future__ import annotations

import asyncio

from flowker.actors.runtime import RayRuntime
from flowker.telemetry.recorder import RECORDER
from tests.helpers.client import ApiClient
from tests.helpers.metrics import run_one, scrape
from tests.helpers.oidc_provider import OidcProvider
from tests.helpers.stub_provider import StubProvider


async def test_a_scrape_after_runs_has_the_series_of_every_actor(
    api: ApiClient, anon: ApiClient, runtime: RayRuntime
) -> None:
    before = await scrape(anon)
    fetched_before = before.value("flowker_token_fetches_total", grant="client_credentials", outcome="ok")
    async with OidcProvider() as issuer, StubProvider() as provider:
        issuer.add_client("flowker", "client-secret-metrics")
        provider.route("POST", "/go", [(503, {"busy": True}), (200, {"ok": True})])
        oidc = {
            "type": "oidc_client_credentials",
            "config": {
                "issuer_url": issuer.url,
                "client_id": "flowker",
                "client_secret": "client-secret-metrics",
            },
        }
        first = await run_one(api, provider.url, authentication=oidc)
        provider.route("POST", "/go", (200, {"ok": True}))
        runs = [first, *await asyncio.gather(*(run_one(api, provider.url) for _ in range(2)))]
    assert [run.status for run in runs] == ["completed"] * 3
    found = await scrape(anon)

    # From the supervisors (other processes): starts, ends, step latency, what they host now.
    for run in runs:
        assert found.value("flowker_executions_started_total", workflow_id=run.workflow_id) == 1
        assert (
            found.value("flowker_executions_finished_total", workflow_id=run.workflow_id, status="completed")
            == 1
        )
        steps = found.value(
            "flowker_step_duration_seconds_count", executor_config_id=run.executor_id, outcome="success"
        )
        assert steps == 1
    supervisors = [s for s in found.samples if s.name == "flowker_live_executions"]
    names = {s.labels["supervisor"] for s in supervisors}
    assert names == {runtime.config.name(f"supervisor-{i}") for i in range(runtime.config.supervisors)}
    assert all(s.labels["node_id"] for s in supervisors) and sum(s.value for s in supervisors) == 0

    # From the executor actors: every attempt, the retry, the call outcomes, the token fetch, the breaker.
    ex = first.executor_id
    assert found.value("flowker_provider_requests_total", executor_config_id=ex, outcome="5xx") == 1
    assert found.value("flowker_provider_requests_total", executor_config_id=ex, outcome="2xx") == 1
    assert found.value("flowker_provider_retries_total", executor_config_id=ex) == 1
    for run in runs:
        assert (
            found.value("flowker_provider_calls_total", executor_config_id=run.executor_id, outcome="ok") == 1
        )
        assert found.value("flowker_breaker_state", executor_config_id=run.executor_id, state="closed") == 1
        assert found.value("flowker_breaker_state", executor_config_id=run.executor_id, state="open") == 0
    fetched = found.value("flowker_token_fetches_total", grant="client_credentials", outcome="ok")
    assert fetched - fetched_before == 1

    # From the audit actor: its appends and the chain's length (this process's own recorder, which the
    # fast tier's in-process runs may have counted into, is left out).
    local = RECORDER.snapshot()
    appended = found.value("flowker_audit_events_appended_total") - local.counters.get(
        ("flowker_audit_events_appended", ()), 0.0
    )
    writes = found.value("flowker_audit_append_duration_seconds_count") - sum(
        h.count
        for (name, _), h in local.histograms.items()
        if name == "flowker_audit_append_duration_seconds"
    )
    assert appended > 0 and writes > 0
    assert found.value("flowker_audit_chain_length") == appended  # this test's store: a fresh chain

    # Every actor answered: the front door, the supervisors, the audit actor, three executor actors.
    assert found.value("flowker_scrape_sources") == 1 + runtime.config.supervisors + 1 + 3
    assert found.value("flowker_scrape_errors_total") == before.value("flowker_scrape_errors_total")

    # Counts do not move between two scrapes with nothing run in between.
    again = await scrape(anon)
    for run in runs:
        assert again.value("flowker_executions_started_total", workflow_id=run.workflow_id) == 1
