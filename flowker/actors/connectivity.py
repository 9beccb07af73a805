"""The staged connectivity test of an executor configuration (``POST /v1/executors/{id}/test``).

Stages, as in the original: ``connectivity`` (the base URL answers below 500), ``authentication``
(the credentials are not refused with 401/403; for the OIDC types, a token is obtained from the
issuer and its answer reported) and ``end_to_end`` (an endpoint answers 2xx). Unlike
the original, the end-to-end stage only calls a GET or HEAD endpoint: a test must never create a
payment. A failed stage skips the stages after it. The test changes nothing but ``lastTestedAt``.

It runs in the front door's process (:meth:`~flowker.actors.runtime.RayRuntime.test_executor`) with a
session of its own: no actor per tested configuration, and the breaker of the configuration's executor
actor is left alone.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import aiohttp

from flowker.actors.issuer_http import shown_url
from flowker.actors.outbound import DestinationRefused, outbound_session
from flowker.actors.provider_auth import Authenticator, authenticator_for
from flowker.actors.token_source import OidcAuth, TokenSettings
from flowker.actors.transport import ProviderRequest, build_request, send
from flowker.codes import INVALID_AUTHENTICATION_FIELD, UNREADABLE_SECRET
from flowker.domain.authentication import UnreadableSecret, open_authentication
from flowker.domain.executor_config import ExecutorConfig
from flowker.domain.outbound import OutboundPolicy
from flowker.errors import TokenUnavailable
from flowker.secretbox import SecretBox
from flowker.tunables import STAGE_TIMEOUT_SECONDS

SAFE_METHODS = ("GET", "HEAD")


async def check_connectivity(
    config: ExecutorConfig, box: SecretBox, policy: OutboundPolicy, tokens: TokenSettings | None = None
) -> dict[str, Any]:
    """Open ``config``'s secrets and run the stages; ``{"error", "code"}`` when it cannot be tested.

    Every request obeys ``policy`` (the SSRF guard of :mod:`flowker.actors.outbound`)."""
    async with outbound_session(policy) as session:
        try:
            clear = config.model_copy(
                update={"authentication": open_authentication(config.authentication, box)}
            )
            authenticator = authenticator_for(
                clear.authentication, session=session, tokens=tokens, config_name=config.name
            )
        except UnreadableSecret as exc:
            return {"error": f"executor configuration {config.name!r}: {exc}", "code": UNREADABLE_SECRET}
        except ValueError as exc:  # messages name fields, never values
            return {
                "error": f"executor configuration {config.name!r}: {exc}",
                "code": INVALID_AUTHENTICATION_FIELD,
            }
        return await run_test(clear, authenticator, session)


async def run_test(
    config: ExecutorConfig, authenticator: Authenticator, session: aiohttp.ClientSession
) -> dict[str, Any]:
    """Run the stages and return the result document (without timestamps, which the caller adds)."""
    started = time.perf_counter()
    base = ProviderRequest("GET", config.baseUrl, {"Accept": "*/*"}, None, STAGE_TIMEOUT_SECONDS)
    stages: list[dict[str, Any]] = []
    stage = await _stage("connectivity", session, base, lambda s: s < 500)
    stages.append(stage)
    if stage["status"] == "passed":
        if config.authentication.get("type") == "none":
            stages.append(_skipped("authentication", "the configuration sends no credentials"))
        else:
            stage = await _authentication(authenticator, session, base)
            stages.append(stage)
    if stage["status"] == "passed":
        stages.append(await _end_to_end(config, authenticator, session))
    for name in ("connectivity", "authentication", "end_to_end")[len(stages) :]:
        stages.append(_skipped(name, f"skipped due to {stage['name']} failure"))
    statuses = {s["status"] for s in stages} - {"skipped"}
    overall = "passed" if statuses <= {"passed"} else "failed" if "passed" not in statuses else "partial"
    return {
        "executorConfigId": config.id,
        "overallStatus": overall,
        "durationMs": int((time.perf_counter() - started) * 1000),
        "stages": stages,
        "summary": SUMMARIES[overall],
    }


SUMMARIES = {
    "passed": "All tests passed - executor configuration connectivity verified",
    "failed": "All tests failed - executor configuration needs review",
    "partial": "Some tests failed - review failed stages before use",
}


async def _authentication(
    authenticator: Authenticator, session: aiohttp.ClientSession, base: ProviderRequest
) -> dict[str, Any]:
    """Static credentials: the base URL must not refuse them (401/403). OIDC: a token must be obtained
    from the issuer; the stage reports the issuer's answer (never the token)."""
    if not isinstance(authenticator, OidcAuth):
        return await _stage(
            "authentication", session, await authenticator.apply(base), lambda s: s not in (401, 403)
        )
    started = time.perf_counter()
    try:
        token = await authenticator.source.token()
    except TokenUnavailable as exc:
        method, url = authenticator.source.asked or ("POST", "")
        details: dict[str, Any] = {"url": shown_url(url), "method": method}
        if exc.status is not None:
            details["statusCode"] = exc.status
        if exc.issuer_error is not None:
            details["error"] = exc.issuer_error
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
        "details": {
            "url": token.endpoint,
            "method": "POST",
            "statusCode": token.status,
            "expiresInSeconds": int(token.lifetime),
            "refreshToken": token.refresh_token is not None,
        },
    }


async def _end_to_end(
    config: ExecutorConfig, authenticator: Authenticator, session: aiohttp.ClientSession
) -> dict[str, Any]:
    safe = [e for e in config.endpoints if e["method"] in SAFE_METHODS]
    if not safe:
        return _skipped(
            "end_to_end", "no GET or HEAD endpoint: a test never calls an endpoint that may change data"
        )
    request = build_request(config, safe[0]["name"], None)
    request = replace(await authenticator.apply(request), timeout=min(request.timeout, STAGE_TIMEOUT_SECONDS))
    return await _stage("end_to_end", session, request, lambda s: 200 <= s < 300)


async def _stage(
    name: str, session: aiohttp.ClientSession, request: ProviderRequest, passes: Any
) -> dict[str, Any]:
    started = time.perf_counter()
    details: dict[str, Any] = {"url": request.url.split("?")[0], "method": request.method}
    try:
        response = await send(session, request)
    except Exception as exc:
        # Never more than status and timing: a test must not map the network for its caller.
        what = "refused by the outbound policy" if isinstance(exc, DestinationRefused) else type(exc).__name__
        return {
            "name": name,
            "status": "failed",
            "durationMs": _ms(started),
            "message": f"no answer: {what}",
            "details": details,
        }
    details["statusCode"] = response.status
    ok = passes(response.status)
    return {
        "name": name,
        "status": "passed" if ok else "failed",
        "durationMs": _ms(started),
        "message": f"HTTP {response.status}",
        "details": details,
    }


def _skipped(name: str, message: str) -> dict[str, Any]:
    return {"name": name, "status": "skipped", "durationMs": 0, "message": message}


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
