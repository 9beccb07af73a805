"""Production mode's outbound policy when a configuration is saved: what needs no lookup (plain http, an IP
literal in a refused range) is refused at once with 422 FLK-0341; a name is checked at call time."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flowker.bootstrap import build_services
from flowker.domain.outbound import OutboundPolicy
from flowker.http.keys import Services
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.fakes.runtime import InProcessRuntime
from tests.helpers.client import ApiClient
from tests.helpers.fixtures import kyc_executor


@pytest.fixture
def services(
    store: EmbeddedStore, runtime: InProcessRuntime, settings: Settings, secret_key: str
) -> Services:
    return build_services(
        store,
        SecretBox.from_text(secret_key),
        runtime,
        execution_timeout_seconds=settings.execution_timeout_seconds,
        outbound=OutboundPolicy.of(True, ["sandbox.internal"]),
        verifier_key=runtime.verifier_key,
    )


def _oidc(url_field: str, url: str) -> dict[str, Any]:
    return {
        "type": "oidc_client_credentials",
        "config": {url_field: url, "client_id": "c", "client_secret": "s" * 20},
    }


@pytest.mark.parametrize(
    "base_url",
    ["http://kyc.example.com", "https://10.0.0.8/v1", "https://169.254.169.254", "https://[::1]:8443",
     "https://127.0.0.1", "https://[fd00:ec2::254]", "https://100.64.0.9"],
)  # fmt: skip
async def test_a_base_url_the_policy_refuses_is_not_saved(api: ApiClient, base_url: str) -> None:
    reply = (await api.post("/v1/executors", kyc_executor(base_url))).error(422, "FLK-0341")
    assert reply.body["message"].startswith("baseUrl: ")
    assert (await api.get("/v1/executors")).body["items"] == []


@pytest.mark.parametrize("field", ["issuer_url", "token_url"])
async def test_an_issuer_the_policy_refuses_is_not_saved(api: ApiClient, field: str) -> None:
    body = kyc_executor("https://kyc.example.com")
    body["authentication"] = _oidc(field, "http://idp.example.com/realms/x")
    reply = (await api.post("/v1/executors", body)).error(422, "FLK-0341")
    assert reply.body["message"].startswith(f"authentication.config.{field}: ")


async def test_https_and_allow_listed_hosts_are_saved_and_a_patch_is_checked_too(api: ApiClient) -> None:
    for base_url in ("https://kyc.example.com/v1", "http://sandbox.internal:8080"):
        body = kyc_executor(base_url, name=f"ok-{len(base_url)}")
        assert (await api.post("/v1/executors", body)).status == 201, base_url
    created = (await api.get("/v1/executors")).body["items"][0]
    patch = {"baseUrl": "https://10.0.0.8", "authentication": copy.deepcopy(kyc_executor()["authentication"])}
    (await api.patch(f"/v1/executors/{created['id']}", patch)).error(422, "FLK-0341")
