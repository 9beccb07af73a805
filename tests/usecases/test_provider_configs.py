"""Provider configuration use cases over the memory store: the outbound policy in production mode, the
credentials each provider sends, and secrets that never reach an audit event."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import pytest

from flowker import codes
from flowker.catalog.credentials import auth_type, static_headers
from flowker.domain.audit import AuditEvent
from flowker.domain.outbound import OutboundPolicy
from flowker.domain.provider_config import ProviderConfigInput, open_config
from flowker.errors import Unprocessable
from flowker.secretbox import SecretBox
from flowker.usecases.provider_configs import ProviderConfigs
from tests.fakes.memory_store import MemoryStore


class Recorder:
    """The runtime port's audit sink; nothing else is asked of it here."""

    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def record(self, events: Sequence[AuditEvent]) -> None:
        self.events.extend(events)


def use_cases(production: bool, allow: tuple[str, ...] = ()) -> tuple[ProviderConfigs, Recorder, SecretBox]:
    box = SecretBox(b"k" * 32)
    recorder = Recorder()
    store = MemoryStore()
    return ProviderConfigs(store, box, recorder, outbound=OutboundPolicy.of(production, allow)), recorder, box  # type: ignore[arg-type]


def tracer(base_url: str) -> ProviderConfigInput:
    return ProviderConfigInput(
        name="tracer", providerId="tracer", config={"base_url": base_url, "api_key": "key-123456"}
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://tracer.example.com",
        "https://127.0.0.1/tracer",
        "https://169.254.169.254/latest",
        "https://10.0.0.8",
    ],
)
async def test_production_mode_refuses_plain_http_and_internal_addresses(url: str) -> None:
    configs, recorder, _ = use_cases(production=True)
    with pytest.raises(Unprocessable) as refused:
        await configs.create(tracer(url))
    assert refused.value.code == codes.DESTINATION_REFUSED
    assert recorder.events == []


async def test_production_mode_allows_https_and_the_allow_list() -> None:
    configs, _, _ = use_cases(production=True, allow=("10.0.0.8",))
    await configs.create(tracer("https://tracer.example.com"))
    created = await configs.create(
        ProviderConfigInput(**{**tracer("https://10.0.0.8").model_dump(), "name": "internal"})
    )
    assert created.config["base_url"] == "https://10.0.0.8"


async def test_secrets_are_sealed_in_the_store_and_absent_from_audit_events() -> None:
    configs, recorder, box = use_cases(production=False)
    created = await configs.create(
        ProviderConfigInput(
            name="http",
            providerId="http",
            config={
                "base_url": "https://api.example.com",
                "headers": {"X-Tenant": "t-1", "X-Signature": "sig-998877"},
                "auth_type": "bearer",
                "bearer_token": "bearer-665544",
            },
        )
    )
    assert created.config["bearer_token"].startswith("enc:v1:")
    assert created.config["headers"]["X-Signature"].startswith("enc:v1:")
    assert open_config(created.config, box)["bearer_token"] == "bearer-665544"
    assert created.to_output()["config"] == {
        "base_url": "https://api.example.com",
        "headers": {"X-Tenant": "********", "X-Signature": "********"},
        "auth_type": "bearer",
        "bearer_token": "********",
    }
    assert "bearer-665544" not in repr(created) and "sig-998877" not in str(recorder.events)
    clear = ProviderConfigInput(name="n", providerId="tracer", config={"api_key": "clear-secret-1"})
    assert "clear-secret-1" not in repr(clear) + str(clear) + f"{clear}"


def test_the_credentials_each_provider_sends() -> None:
    assert static_headers("tracer", {"base_url": "https://t", "api_key": "k1"}) == {"X-API-Key": "k1"}
    assert static_headers("http", {"base_url": "https://h", "auth_type": "api_key", "api_key": "k2"}) == {
        "X-API-Key": "k2"
    }
    custom: dict[str, Any] = {
        "base_url": "https://h",
        "auth_type": "api_key",
        "api_key": "k3",
        "api_key_header": "X-Key",
    }
    assert static_headers("http", custom) == {"X-Key": "k3"}
    assert static_headers("http", {"base_url": "https://h", "auth_type": "bearer", "bearer_token": "t"}) == {
        "Authorization": "Bearer t"
    }
    basic = {"base_url": "https://h", "auth_type": "basic", "username": "u", "password": "p"}
    assert static_headers("http", basic) == {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
    assert static_headers("http", {"base_url": "https://h", "headers": {"X-A": "1"}}) == {"X-A": "1"}
    midaz = {"auth": {"issuer_url": "https://idp", "client_id": "c", "client_secret": "s"}}
    assert (static_headers("midaz", midaz), auth_type("midaz", midaz)) == ({}, "oidc_client_credentials")
    assert auth_type("midaz", {}) == "none"
