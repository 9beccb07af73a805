"""The connectivity test of a provider configuration (``POST /v1/provider-configurations/{id}/test``),
as the original runs it (reference 4.6), through the SSRF guard of :mod:`flowker.actors.outbound`.

Three ``GET`` requests on the configuration's base URL (the first of the provider's base URL keys that
is set), 10 s each: ``connectivity`` without credentials (passes below 500), ``authentication`` with the
configuration's static credentials (skipped when it has none; fails on 401, 403 and 5xx),
``end_to_end`` with them (passes on 2xx only). A failed stage skips the ones after it. The answer never
says more than the status and the timing of each request; nothing is changed, no actor is started.

A configuration whose provider authenticates with OIDC client credentials (Midaz's ``auth`` block) goes
further than the original, which sends no credential then: its ``authentication`` stage obtains a token
from the issuer (reporting the issuer's answer, never the token), and ``end_to_end`` sends it.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp

from flowker.actors.issuer_http import shown_url
from flowker.actors.outbound import DestinationRefused, outbound_session
from flowker.actors.provider_auth import Authenticator, authenticator_for
from flowker.actors.token_source import OidcAuth, TokenSettings
from flowker.actors.transport import ProviderRequest, send
from flowker.catalog.call_target import authentication
from flowker.catalog.credentials import auth_type, static_headers
from flowker.domain.outbound import OutboundPolicy
from flowker.domain.provider_config import ProviderConfig, open_config
from flowker.errors import TokenUnavailable
from flowker.secretbox import SecretBox
from flowker.tunables import STAGE_TIMEOUT_SECONDS

STAGES = ("connectivity", "authentication", "end_to_end")
SUMMARIES = {
    "passed": "All tests passed - provider configuration connectivity verified",
    "failed": "All tests failed - provider configuration needs review",
    "partial": "Some tests failed - review failed stages before use",
}


async def check_provider(
    config: ProviderConfig,
    base_url: str,
    box: SecretBox,
    policy: OutboundPolicy,
    tokens: TokenSettings | None = None,
) -> dict[str, Any]:
    """Open ``config``'s secrets and run the stages against ``base_url``; ``{"error"}`` when a sealed
    secret cannot be opened or its authentication is unusable."""
    try:
        clear = open_config(config.config, box)
    except ValueError:
        return {"error": f"provider configuration {config.name!r}: a stored secret cannot be opened"}
    headers = static_headers(config.providerId, clear)
    kind = auth_type(config.providerId, clear)
    async with outbound_session(policy) as session:
        oidc = None
        if kind == "oidc_client_credentials":
            try:
                oidc = authenticator_for(
                    authentication(config.providerId, clear),
                    session=session,
                    tokens=tokens,
                    config_name=config.name,
                )
            except ValueError as exc:  # messages name fields, never values
                return {"error": f"provider configuration {config.name!r}: {exc}"}
        return await _run(config, base_url, headers, kind, session, oidc)


async def _run(
    config: ProviderConfig,
    base_url: str,
    headers: dict[str, str],
    kind: str,
    session: aiohttp.ClientSession,
    oidc: Authenticator | None = None,
) -> dict[str, Any]:
    started = time.perf_counter()
    bare = ProviderRequest("GET", base_url, {"Accept": "*/*"}, None, STAGE_TIMEOUT_SECONDS)
    with_credentials = ProviderRequest(
        "GET",
        base_url,
        {"Accept": "*/*", **headers},
        None,
        STAGE_TIMEOUT_SECONDS,
        sensitive=frozenset(name.lower() for name in headers),
    )
    stages = [await _stage("connectivity", session, bare, lambda s: s < 500)]
    if stages[-1]["status"] == "passed" and isinstance(oidc, OidcAuth):
        stages.append(await _token_stage(oidc))
        if stages[-1]["status"] == "passed":
            with_credentials = await oidc.apply(with_credentials)
    elif stages[-1]["status"] == "passed":
        if not headers:
            why = (
                "OIDC client credentials: this test requests no token"
                if kind.startswith("oidc")
                else "the configuration has no static credentials"
            )
            stages.append(_skipped("authentication", why))
        else:
            stage = await _stage(
                "authentication", session, with_credentials, lambda s: s not in (401, 403) and s < 500
            )
            stage["details"]["hasApiKey"] = True
            stage["details"]["headerCount"] = len(headers)
            stages.append(stage)
    if stages[-1]["status"] != "failed":
        stages.append(await _stage("end_to_end", session, with_credentials, lambda s: 200 <= s < 300))
    failed = next((s["name"] for s in stages if s["status"] == "failed"), None)
    for name in STAGES[len(stages) :]:
        stages.append(_skipped(name, f"Skipped due to {failed} failure"))
    statuses = {s["status"] for s in stages} - {"skipped"}
    overall = "passed" if statuses <= {"passed"} else "failed" if "passed" not in statuses else "partial"
    return {
        "providerConfigId": config.id,
        "providerId": config.providerId,
        "overallStatus": overall,
        "durationMs": _ms(started),
        "stages": stages,
        "summary": SUMMARIES[overall],
    }


async def _stage(
    name: str, session: aiohttp.ClientSession, request: ProviderRequest, passes: Any
) -> dict[str, Any]:
    started = time.perf_counter()
    details: dict[str, Any] = {"url": request.url.split("?")[0]}
    try:
        response = await send(session, request)
    except Exception as exc:
        # Never more than status and timing: a test must not map the network for its caller.
        what = "refused by the outbound policy" if isinstance(exc, DestinationRefused) else type(exc).__name__
        details["responseTimeMs"] = _ms(started)
        return {
            "name": name,
            "status": "failed",
            "durationMs": _ms(started),
            "message": f"no answer: {what}",
            "error": what,
            "details": details,
        }
    details["statusCode"] = response.status
    details["responseTimeMs"] = _ms(started)
    return {
        "name": name,
        "status": "passed" if passes(response.status) else "failed",
        "durationMs": _ms(started),
        "message": f"HTTP {response.status}",
        "details": details,
    }


async def _token_stage(oidc: OidcAuth) -> dict[str, Any]:
    """``authentication`` for OIDC: a token obtained from the issuer (its answer shown, never the token)."""
    started = time.perf_counter()
    try:
        token = await oidc.source.token()
    except TokenUnavailable as exc:
        _method, url = oidc.source.asked or ("POST", "")
        details: dict[str, Any] = {"url": shown_url(url), "responseTimeMs": _ms(started)}
        if exc.status is not None:
            details["statusCode"] = exc.status
        return {
            "name": "authentication",
            "status": "failed",
            "durationMs": _ms(started),
            "message": exc.message,
            "details": details,
        }
    return {
        "name": "authentication",
        "status": "passed",
        "durationMs": _ms(started),
        "message": f"token obtained ({token.grant} grant, HTTP {token.status})",
        "details": {"url": token.endpoint, "statusCode": token.status, "responseTimeMs": _ms(started)},
    }


def _skipped(name: str, message: str) -> dict[str, Any]:
    return {"name": name, "status": "skipped", "durationMs": 0, "message": message}


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
