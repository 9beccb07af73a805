"""OIDC discovery: an issuer's ``token_endpoint`` from ``{issuer}/.well-known/openid-configuration``.

The document is kept :data:`~flowker.tunables.DISCOVERY_TTL_SECONDS` (1 h, as the original) and asked for
once by all the callers that need it at the same time. An answer that is not 200 with a JSON object
holding an http(s) ``token_endpoint`` is refused (:class:`~flowker.errors.TokenRefused`); network
errors, timeouts, 5xx and 429 are transient (:class:`~flowker.errors.TokenEndpointFailed`). The
``issuer`` field is not compared with the configured URL: issuers behind proxies often differ, and the
document comes from the URL the operator configured. The clock is injected.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp

from flowker.actors.issuer_http import describe_issuer_error, exchange, issuer_error
from flowker.domain.urls import http_url
from flowker.errors import TokenRefused
from flowker.tunables import DISCOVERY_TTL_SECONDS, MAX_DISCOVERY_BYTES

WELL_KNOWN = "/.well-known/openid-configuration"


def discovery_url(issuer_url: str) -> str:
    """Where the issuer's discovery document is (OIDC Discovery 1.0 §4)."""
    return issuer_url.rstrip("/") + WELL_KNOWN


class Discovery:
    """The token endpoint of one issuer, discovered and kept for a while."""

    def __init__(
        self,
        issuer_url: str,
        *,
        what: str,
        ttl: float = DISCOVERY_TTL_SECONDS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = discovery_url(issuer_url)
        self._what = what
        self._ttl = ttl
        self._now = now
        self._found: tuple[str, float] | None = None
        self._lock = asyncio.Lock()
        #: Discovery requests made (diagnostics and tests).
        self.fetches = 0

    async def token_endpoint(self, session: aiohttp.ClientSession) -> str:
        """The issuer's ``token_endpoint``, from the kept document while it is recent enough."""
        async with self._lock:
            if self._found is not None and self._now() - self._found[1] < self._ttl:
                return self._found[0]
            fetched_at = self._now()
            self.fetches += 1
            where = f"{self._what} discovery"
            answer = await exchange(session, "GET", self.url, what=where, limit=MAX_DISCOVERY_BYTES)
            if answer.status != 200 or answer.body is None:
                raise TokenRefused(
                    f"{where} {self.url} answered HTTP {answer.status}"
                    + (describe_issuer_error(answer.body, ()) or " without a JSON object"),
                    status=answer.status,
                    issuer_error=issuer_error(answer.body),
                )
            endpoint = answer.body.get("token_endpoint")
            if not isinstance(endpoint, str) or http_url(endpoint) is None:
                raise TokenRefused(
                    f"{where} {self.url}: the document has no http(s) token_endpoint", status=answer.status
                )
            self._found = (endpoint, fetched_at)
            return endpoint

    def forget(self) -> None:
        """Drop the kept document: the next call discovers again."""
        self._found = None
