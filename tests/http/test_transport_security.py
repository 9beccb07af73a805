"""HTTPS serving and production mode's transport policy, over real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from flowker.errors import ConfigError
from flowker.http.app import create_app
from flowker.http.keys import Services
from flowker.http.tls import server_context
from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.certs import Certificates, make_certificates

Serve = Callable[..., Awaitable[str]]


@pytest.fixture
def certs(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path / "tls")


@pytest.fixture
async def serve(services: Services) -> AsyncIterator[Serve]:
    """Start the front door with the given settings (and TLS context); yields a function returning its URL."""
    runners: list[web.AppRunner] = []

    async def start(settings: Settings, tls: ssl.SSLContext | None = None) -> str:
        runner = web.AppRunner(create_app(settings, services, settings.api_keys))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
        runners.append(runner)
        return f"{'https' if tls else 'http'}://127.0.0.1:{runner.addresses[0][1]}"

    yield start
    for runner in runners:
        await runner.cleanup()


def _behind_proxy(settings: Settings, *proxies: str) -> Settings:
    networks = tuple(ipaddress.ip_network(p) for p in proxies)
    return replace(settings, environment="production", trusted_proxies=networks)


async def _get(url: str, headers: dict[str, str] | None = None, **kwargs: object) -> tuple[int, dict, dict]:
    sent = {"X-API-Key": API_KEY, **(headers or {})}
    async with aiohttp.ClientSession() as session, session.get(url, headers=sent, **kwargs) as response:
        body = await response.json(content_type=None)
        return response.status, dict(response.headers), body


async def test_https_is_served_with_the_configured_certificate(
    settings: Settings, serve: Serve, certs: Certificates
) -> None:
    url = await serve(settings, server_context(certs.cert, certs.key))
    status, headers, _ = await _get(url + "/v1/workflows", ssl=certs.client_context())
    assert status == 200
    assert "Strict-Transport-Security" not in headers  # development mode sends no HSTS


async def test_https_speaks_tls_1_2_with_forward_secret_aead_suites_and_tls_1_3(
    settings: Settings, serve: Serve, certs: Certificates
) -> None:
    context = server_context(certs.cert, certs.key)
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    url = await serve(settings, context)
    port = int(url.rsplit(":", 1)[1])
    for highest in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
        client = certs.client_context()
        client.maximum_version = highest
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client)
        negotiated = writer.get_extra_info("ssl_object")
        assert negotiated.version() == ("TLSv1.2" if highest == ssl.TLSVersion.TLSv1_2 else "TLSv1.3")
        cipher = negotiated.cipher()[0]
        assert cipher.startswith("TLS_") or (
            cipher.startswith("ECDHE-") and ("GCM" in cipher or "CHACHA" in cipher)
        )
        writer.close()
        await writer.wait_closed()


async def test_production_with_tls_sends_hsts_on_every_answer_errors_included(
    settings: Settings, serve: Serve, certs: Certificates
) -> None:
    production = replace(settings, environment="production", tls_cert=certs.cert, tls_key=certs.key)
    url = await serve(production, server_context(certs.cert, certs.key))
    for path, key, expected in (("/v1/workflows", API_KEY, 200), ("/v1/workflows", "wrong", 401)):
        status, headers, _ = await _get(url + path, {"X-API-Key": key}, ssl=certs.client_context())
        assert status == expected
        assert headers["Strict-Transport-Security"].startswith("max-age=31536000")


async def test_behind_a_trusted_proxy_only_forwarded_https_is_accepted(
    settings: Settings, serve: Serve
) -> None:
    url = await serve(_behind_proxy(settings, "127.0.0.1/32"))
    status, headers, _ = await _get(url + "/v1/workflows", {"X-Forwarded-Proto": "https"})
    assert status == 200 and "Strict-Transport-Security" in headers
    # The proxy appends its own value: only the last one counts.
    assert (await _get(url + "/v1/workflows", {"X-Forwarded-Proto": "http, https"}))[0] == 200
    for proto in (None, "http", "https, http", "HTTP", ""):
        status, headers, body = await _get(
            url + "/v1/workflows", {"X-Forwarded-Proto": proto} if proto else {}
        )
        assert (status, body["code"]) == (403, "FLK-0403"), proto
        assert "Strict-Transport-Security" in headers


async def test_a_peer_that_is_not_a_trusted_proxy_cannot_claim_https(
    settings: Settings, serve: Serve
) -> None:
    url = await serve(_behind_proxy(settings, "10.0.0.0/8"))
    status, _, body = await _get(url + "/v1/workflows", {"X-Forwarded-Proto": "https"})
    assert (status, body["code"]) == (403, "FLK-0403")


async def test_health_probes_stay_open_over_plain_http_behind_a_proxy(
    settings: Settings, serve: Serve
) -> None:
    url = await serve(_behind_proxy(settings, "10.0.0.0/8"))
    for probe in ("/health", "/readyz", "/health/live", "/health/ready"):
        assert (await _get(url + probe))[0] == 200, probe
    assert (await _get(url + "/version"))[0] == 403  # not a probe


async def test_development_mode_ignores_forwarded_proto_and_sends_no_hsts(
    settings: Settings, serve: Serve
) -> None:
    url = await serve(settings)
    status, headers, _ = await _get(url + "/v1/workflows", {"X-Forwarded-Proto": "http"})
    assert status == 200 and "Strict-Transport-Security" not in headers


def test_production_mode_without_tls_or_proxy_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="production mode serves HTTPS only"):
        Settings.from_env({"FLOWKER_ENV": "production", "FLOWKER_DATA_DIR": str(tmp_path)})
    behind = Settings.from_env({"FLOWKER_ENV": "production", "FLOWKER_TRUSTED_PROXIES": "10.1.2.3, fd00::/8"})
    assert [str(n) for n in behind.trusted_proxies] == ["10.1.2.3/32", "fd00::/8"]


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"FLOWKER_ENV": "staging"}, "FLOWKER_ENV='staging' is not one of development, production"),
        ({"FLOWKER_TLS_CERT": "/x.pem"}, "TLS needs both a certificate and a key"),
        ({"FLOWKER_TRUSTED_PROXIES": "proxy.internal"}, "'proxy.internal' is not an IP address or network"),
    ],
)
def test_transport_settings_are_checked(env: dict[str, str], reason: str) -> None:
    with pytest.raises(ConfigError, match=reason):
        Settings.from_env(env)


def test_a_key_that_does_not_match_the_certificate_or_a_missing_file_is_a_one_line_config_error(
    tmp_path: Path, certs: Certificates
) -> None:
    other = make_certificates(tmp_path / "other")
    with pytest.raises(ConfigError, match="cannot load the TLS certificate"):
        server_context(certs.cert, other.key)
    with pytest.raises(ConfigError, match="cannot read the TLS certificate or key"):
        server_context(tmp_path / "missing.pem", certs.key)
