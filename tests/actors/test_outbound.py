"""The SSRF guard of every outbound request, without a packet leaving loopback even were it broken.

Names are resolved by a stub resolver, and every connection attempt goes through a connector that
records it and, unless it is to a loopback address, refuses to make it (raising a connector error as a
failed connection would). So a test of a refused destination that the guard let through would show an
attempt in the record, and still send nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from flowker.actors.breaker import BreakerConfig, CircuitBreaker
from flowker.actors.caller import CallRequest, ProviderCaller
from flowker.actors.outbound import DestinationRefused, GuardedConnector, outbound_session
from flowker.actors.provider_auth import NoAuth, authenticator_for
from flowker.actors.retry_policy import RetryPolicy
from flowker.codes import DESTINATION_REFUSED
from flowker.domain.executor_config import ExecutorConfig
from flowker.domain.outbound import OutboundPolicy, category
from tests.helpers.stub_provider import StubProvider

NAMES = {
    "public.example": ["93.184.216.34"],
    "internal.example": ["10.0.0.5"],
    "mixed.example": ["93.184.216.34", "10.0.0.5"],
    "metadata.example": ["169.254.169.254"],
    "v6-internal.example": ["fd12::5"],
    "cgnat.example": ["100.64.1.1"],
}


class StubResolver(AbstractResolver):
    """Answers from :data:`NAMES` (or ``extra``); never asks DNS."""

    def __init__(self, extra: dict[str, list[str]] | None = None) -> None:
        self.names = {**NAMES, **(extra or {})}
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.names:
            raise OSError(f"stub resolver: unknown name {host}")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.names[host]
        ]

    async def close(self) -> None:
        return None


#: Every connection attempt the recording connectors were asked to make, as (host, address).
ATTEMPTS: list[tuple[str, str]] = []


class RecordingConnector(GuardedConnector):
    """Records every connection attempt; makes only those to loopback addresses."""

    async def _wrap_create_connection(self, *args: Any, addr_infos: Any, req: Any, **kwargs: Any) -> Any:
        addresses = [info[4][0] for info in addr_infos]
        for address in addresses:
            ATTEMPTS.append((req.url.raw_host, address))
        if all(ipaddress.ip_address(a).is_loopback for a in addresses):
            return await super()._wrap_create_connection(*args, addr_infos=addr_infos, req=req, **kwargs)
        raise aiohttp.ClientConnectorError(req.connection_key, OSError("recording connector: not connecting"))


@pytest.fixture(autouse=True)
def _fresh_record() -> None:
    ATTEMPTS.clear()


def production(*allow: str) -> OutboundPolicy:
    return OutboundPolicy.of(True, allow)


async def session_for(policy: OutboundPolicy, resolver: StubResolver | None = None) -> aiohttp.ClientSession:
    return outbound_session(policy, resolver=resolver or StubResolver(), connector_class=RecordingConnector)


@pytest.mark.parametrize(
    ("address", "kind"),
    [("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"),
     ("172.16.0.1", "private"), ("192.168.1.1", "private"), ("fd12::5", "private"),
     ("169.254.169.254", "cloud metadata"), ("fd00:ec2::254", "cloud metadata"),
     ("169.254.7.7", "link-local"),
     ("fe80::1", "link-local"), ("100.64.0.1", "shared (CGNAT)"), ("0.0.0.0", "unspecified"),
     ("::", "unspecified"), ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"),
     ("::ffff:10.0.0.1", "private"), ("::ffff:127.0.0.1", "loopback"), ("64:ff9b::a00:1", "private"),
     ("192.0.2.1", "private"), ("8.8.8.8", None), ("93.184.216.34", None), ("2606:4700::1111", None),
     ("64:ff9b::808:808", None)],
)  # fmt: skip
def test_each_kind_of_address_is_named_and_only_public_unicast_passes(address: str, kind: str | None) -> None:
    assert category(ipaddress.ip_address(address)) == kind


@pytest.mark.parametrize(
    "url",
    ["https://internal.example/x", "https://mixed.example/x", "https://metadata.example/latest/meta-data/",
     "https://v6-internal.example/", "https://cgnat.example/", "https://169.254.169.254/latest/meta-data/",
     "https://10.0.0.7/", "https://[::ffff:10.0.0.1]/", "https://127.0.0.1/", "https://[::1]/",
     "https://[fe80::1]/", "http://public.example/"],
)  # fmt: skip
async def test_production_refuses_non_public_destinations_before_any_connection(url: str) -> None:
    resolver = StubResolver()
    async with await session_for(production(), resolver) as session:
        with pytest.raises(DestinationRefused) as refused:
            await session.get(url)
    assert ATTEMPTS == []
    message = str(refused.value)
    assert "refused" in message and "10.0.0.5" not in message  # the address stays in the server's log


async def test_a_public_destination_passes_the_guard_and_reaches_the_recorder_only() -> None:
    async with await session_for(production()) as session:
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.get("https://public.example/x")
    assert ATTEMPTS == [("public.example", "93.184.216.34")]


async def test_the_allow_list_admits_named_hosts_and_networks() -> None:
    policy = production("internal.example", "fd12::/64")
    async with await session_for(policy) as session:
        for url in ("https://internal.example/", "http://internal.example/", "https://v6-internal.example/"):
            with pytest.raises(aiohttp.ClientConnectorError):
                await session.get(url)
        with pytest.raises(DestinationRefused):
            await session.get("https://metadata.example/")
    assert [a for _, a in ATTEMPTS] == ["10.0.0.5", "10.0.0.5", "fd12::5"]


async def test_development_mode_allows_with_one_warning_per_host_and_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    policy = OutboundPolicy.of(False, ())
    with caplog.at_level(logging.WARNING, logger="flowker.outbound"):
        async with await session_for(policy) as session:
            for _ in range(2):
                with pytest.raises(aiohttp.ClientConnectorError):
                    await session.get("http://internal.example/")
    warnings = [r.getMessage() for r in caplog.records if "internal.example" in r.getMessage()]
    assert len(warnings) == 1 and "private" in warnings[0] and "development mode" in warnings[0]
    assert ATTEMPTS == [("internal.example", "10.0.0.5")] * 2


@pytest.fixture
async def redirector() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("GET", "/start", (302, None, {"Location": "http://10.0.0.1/admin"}))
        stub.route("POST", "/pay", (302, None, {"Location": "https://internal.example/pay"}))
        yield stub


def _config(base_url: str, authentication: dict[str, Any] | None = None) -> ExecutorConfig:
    return ExecutorConfig(
        id="5d2b3c1e-0000-4000-8000-000000000001",
        name="payments",
        baseUrl=base_url,
        endpoints=[{"name": "pay", "path": "/pay", "method": "POST", "timeout": 5}],
        authentication=authentication or {"type": "none"},
        createdAt="2026-01-01T00:00:00Z",
        updatedAt="2026-01-01T00:00:00Z",
    )


def _caller(config: ExecutorConfig, session: aiohttp.ClientSession, auth: Any = None) -> ProviderCaller:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    caller = ProviderCaller(
        config,
        auth or NoAuth(),
        session,
        RetryPolicy(attempts=5),
        CircuitBreaker(BreakerConfig(failure_threshold=1)),
        sleep=sleep,
    )
    caller.waits = waits  # type: ignore[attr-defined]
    return caller


PAY = CallRequest("5d2b3c1e-0000-4000-8000-000000000001", "pay", {"amount": 1}, "idem-1", "req-1")


async def test_a_provider_call_to_a_refused_destination_fails_once_unsent_and_spares_the_breaker() -> None:
    async with await session_for(production()) as session:
        caller = _caller(_config("https://internal.example"), session)
        result = await caller.call(PAY)
    assert (result.ok, result.code, result.may_have_reached) == (False, DESTINATION_REFUSED, False)
    assert caller.waits == []  # type: ignore[attr-defined]  # not retried: it would be refused again
    assert caller._breaker.snapshot()["state"] == "closed"
    assert ATTEMPTS == []


async def test_a_redirect_to_an_internal_address_is_not_followed(redirector: StubProvider) -> None:
    # Production mode with the stub's loopback address allowed: only the redirect is in question.
    async with await session_for(production("127.0.0.1/32")) as session:
        result = await _caller(_config(redirector.url), session).call(PAY)
        async with session.get(redirector.url + "/start", allow_redirects=False) as response:
            assert response.status == 302
    assert result.response is not None and result.response["status"] == 302
    assert {address for _, address in ATTEMPTS} == {"127.0.0.1"}
    assert len(redirector.calls("/pay")) == 1


async def test_an_oidc_issuer_at_a_refused_destination_fails_the_call_unsent() -> None:
    block = {
        "type": "oidc_client_credentials",
        "config": {
            "issuer_url": "https://internal.example/realms/x",
            "client_id": "c",
            "client_secret": "s" * 20,
        },
    }
    async with await session_for(production()) as session:
        auth = authenticator_for(block, session=session, config_name="payments")
        caller = _caller(_config("https://public.example", block), session, auth)
        result = await caller.call(PAY)
    assert (result.ok, result.code, result.may_have_reached) == (False, DESTINATION_REFUSED, False)
    assert "internal.example" in (result.error or "") and caller.waits == []  # type: ignore[attr-defined]
    assert ATTEMPTS == []


@pytest.mark.parametrize(
    ("url", "refused"),
    [("http://kyc.example.com", True), ("https://kyc.example.com", False), ("https://10.1.1.1", True),
     ("https://169.254.169.254", True), ("https://[::1]:8443", True), ("https://internal.example", False),
     ("http://allowed.example", False)],
)  # fmt: skip
def test_saving_checks_what_needs_no_lookup(url: str, refused: bool) -> None:
    # A name is resolved at call time only (it may change); an IP literal and the scheme are known now.
    assert (production("allowed.example").refusal(url) is not None) is refused
    assert OutboundPolicy.of(False, ()).refusal(url) is None
