"""Production mode's HTTPS policy: HSTS on every response, and, behind a TLS-terminating proxy, no request
that did not reach the proxy over HTTPS.

When the front door serves TLS itself every connection is encrypted and nothing is checked. Behind a
proxy, a request is accepted only when its peer is one of ``FLOWKER_TRUSTED_PROXIES`` and the
``X-Forwarded-Proto`` that proxy set says ``https``; a client that sends the header itself, directly or
through an untrusted hop, is refused. The health probes (and their aliases) stay open over plain HTTP:
orchestrators probe the pod directly, and they reveal nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web
from aiohttp.typedefs import Handler

from flowker.codes import HTTPS_REQUIRED
from flowker.errors import Forbidden
from flowker.settings import IPNetwork

HSTS = "max-age=31536000; includeSubDomains"
FORWARDED_PROTO = "X-Forwarded-Proto"
#: The health probes and their aliases (flowker.http.routes.system).
PROBES = frozenset({"/health", "/readyz", "/health/live", "/health/ready"})


async def add_hsts(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare`` hook: error responses, aiohttp's own included, carry HSTS too."""
    response.headers["Strict-Transport-Security"] = HSTS


def forwarded_https_middleware(*, trusted_proxies: Sequence[IPNetwork]) -> web.Middleware:
    """Refuse (403 FLK-0403) requests that did not come over HTTPS through a trusted proxy."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in PROBES and not _through_tls_proxy(request, trusted_proxies):
            raise Forbidden(
                "HTTPS required: this service accepts requests only through its TLS-terminating proxy",
                code=HTTPS_REQUIRED,
            )
        return await handler(request)

    return middleware


def _through_tls_proxy(request: web.Request, trusted: Sequence[IPNetwork]) -> bool:
    peer = _peer(request)
    if peer is None or not any(peer in network for network in trusted):
        return False
    # A proxy appends to what the client sent: only the last value is the trusted proxy's own.
    values = ",".join(request.headers.getall(FORWARDED_PROTO, [])).split(",")
    return values[-1].strip().lower() == "https"


def _peer(request: web.Request) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    transport = request.transport
    peername = transport.get_extra_info("peername") if transport is not None else None
    if not peername:
        return None
    try:
        address = ipaddress.ip_address(peername[0])
    except ValueError:  # a Unix socket has no IP address
        return None
    # An IPv4 peer on a dual-stack socket shows as ::ffff:a.b.c.d.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
