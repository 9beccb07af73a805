"""Catalog-form executor nodes on the real runtime: the 9.1 template runs through the executor actor of
each provider configuration (one per configuration, as for executor configurations), against stub Tracer
and Midaz services on 127.0.0.1."""

from __future__ import annotations

from ray.util.state import list_actors

from tests.helpers.client import ApiClient
from tests.helpers.stub_provider import StubProvider
from tests.http.test_catalog_runs import SAMPLE, TRANSACTIONS, configure, from_template, run, stubs

__all__ = ["stubs"]  # the fixture, shared with the fast tier's test of the same runs


async def test_the_template_runs_through_one_executor_actor_per_provider_configuration(
    api: ApiClient, stubs: StubProvider, ray_cluster: str
) -> None:
    tracer, midaz = await configure(api, stubs)
    workflow = await from_template(api, tracer, midaz)
    results = await run(api, workflow, SAMPLE)
    assert results["status"] == "completed", results
    assert [s["nodeId"] for s in results["stepResults"]] == [
        "tracer-validate",
        "decision-check",
        "midaz-create-tx",
    ]
    assert stubs.calls("/tracer/v1/validations")[0].headers["X-API-Key"] == "tracer-key-1234"
    assert len(stubs.calls(TRANSACTIONS)) == 1
    names = {a.name for a in list_actors(address=ray_cluster, filters=[("state", "=", "ALIVE")])}
    assert any(name.endswith(f"executor:{tracer}") for name in names), names
    assert any(name.endswith(f"executor:{midaz}") for name in names), names
