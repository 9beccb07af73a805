"""Where Flowker's outbound requests may go: the SSRF guard of every provider call, OIDC discovery and token
request, and connectivity test.

An executor configuration's base URL is a way into the network Flowker runs in. So every connection
Flowker opens to a provider or an issuer goes through :class:`GuardedConnector`:

* the host is resolved once (:class:`GuardedResolver` around aiohttp's resolver) and **every** address
  of the answer is checked, so a name with one public and one private address is refused whole;
* an IP literal in the URL is checked the same way (aiohttp does not resolve those);
* the connection then goes to a checked address, with the original ``Host`` header and TLS server
  name (aiohttp's own behaviour once the resolver answered);
* in production mode the URL must be https.

Refused ranges: loopback, private (RFC 1918, ULA), link-local (cloud metadata endpoints live there),
shared address space (CGNAT, 100.64/10), and every reserved, multicast, documentation or unspecified
range — whatever :attr:`ipaddress.IPv4Address.is_global` calls not global, IPv4-mapped and NAT64
addresses judged by the IPv4 address they carry. In production mode they are refused unless the host
or the address is on the allow-list (``FLOWKER_OUTBOUND_ALLOW``); in development mode they are allowed
with a warning, logged once per host and address, so that a new user can try a provider on localhost.

Redirects are never followed (the transport and the token source send with ``allow_redirects=False``),
so a provider cannot bounce a request to an internal address either.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from flowker.domain import outbound as rules
from flowker.domain.outbound import OutboundPolicy


class DestinationRefused(aiohttp.ClientError):
    """The outbound policy refused this destination; nothing was sent. Never retried: it would be
    refused again. The message names the host and the kind of address, never the address itself."""


class GuardedResolver(AbstractResolver):
    """Resolves once through ``inner`` and checks every address before any is used."""

    def __init__(self, policy: OutboundPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        try:
            for result in results:
                self._policy.check_address(host, ipaddress.ip_address(result["host"]), port)
        except rules.DestinationRefused as exc:
            raise DestinationRefused(str(exc)) from None
        return results

    async def close(self) -> None:
        await self._inner.close()


class GuardedConnector(aiohttp.TCPConnector):
    """A TCP connector whose every connection obeys an :class:`OutboundPolicy`."""

    def __init__(
        self, policy: OutboundPolicy, *, resolver: AbstractResolver | None = None, **kwargs: Any
    ) -> None:
        super().__init__(resolver=GuardedResolver(policy, resolver), **kwargs)
        self.policy = policy

    async def connect(self, req: Any, traces: Any, timeout: Any) -> Any:  # noqa: ASYNC109 - aiohttp's signature
        # Before a pooled connection is reused or a new one opened: the scheme and an IP literal host,
        # which aiohttp does not hand to the resolver.
        try:
            self.policy.check_url(req.url.scheme, req.url.raw_host or "", req.url.port)
        except rules.DestinationRefused as exc:
            raise DestinationRefused(str(exc)) from None
        return await super().connect(req, traces, timeout)


def outbound_session(
    policy: OutboundPolicy,
    *,
    resolver: AbstractResolver | None = None,
    connector_class: type[GuardedConnector] = GuardedConnector,
    **session_kwargs: Any,
) -> aiohttp.ClientSession:
    """A client session for provider and issuer requests: no connection limit, the policy enforced,
    no proxy from the environment. Tests pass a stub ``resolver`` and a recording ``connector_class``."""
    connector = connector_class(policy, resolver=resolver, limit=0)
    return aiohttp.ClientSession(connector=connector, trust_env=False, **session_kwargs)
