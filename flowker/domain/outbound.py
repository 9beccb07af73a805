"""Which destinations Flowker's outbound requests may reach: the pure rules of the SSRF guard.

:mod:`flowker.actors.outbound` enforces them on every connection; the use cases check a configuration's
URLs against them when it is saved. See that module for the whole picture.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import SplitResult

from flowker.domain.urls import http_url

log = logging.getLogger("flowker.outbound")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: Addresses named for what they are, beyond ``ipaddress``'s categories.
_METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "169.254.170.2")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_DEFAULT_PORTS = {"http": 80, "https": 443}
#: Warnings remembered at most (development mode), so a stream of new names costs bounded memory.
_MAX_WARNED = 1000


class DestinationRefused(ValueError):
    """The outbound policy refuses this destination. The message names the host and the kind of address,
    never the address itself or credentials."""


def category(address: IPAddress) -> str | None:
    """What kind of non-public address ``address`` is (``"loopback"``, ``"private"``, ...), or ``None``
    when it is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return category(address.ipv4_mapped)
        if address in _NAT64:
            return category(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address in _METADATA:
        return "cloud metadata"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_unspecified:
        return "unspecified"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "shared (CGNAT)"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if not address.is_global:
        return "reserved"
    return None


@dataclass
class OutboundPolicy:
    """Which destinations outbound requests may reach.

    Attributes:
        production: Refuse non-public addresses (unless allowed) and plain http; otherwise only warn.
        allow_hosts: Host names (lower case) allowed whatever their addresses, and to use http.
        allow_networks: Addresses allowed although not public.
        own_origin: Flowker's own serving origin ``(host, port)`` in sandbox mode: its simulated providers
            are reached there without a warning, in development mode only (the sandbox exists only
            there). Exactly that host and port: the rest of loopback is judged as always.
    """

    production: bool = False
    allow_hosts: frozenset[str] = frozenset()
    allow_networks: tuple[IPNetwork, ...] = ()
    own_origin: tuple[str, int] | None = None
    _warned: set[tuple[str, str]] = field(default_factory=set, repr=False, compare=False)

    @classmethod
    def of(
        cls, production: bool, allow: Iterable[str], own_origin: tuple[str, int] | None = None
    ) -> OutboundPolicy:
        """A policy from the mode and ``FLOWKER_OUTBOUND_ALLOW`` entries (host names, addresses, networks),
        and the sandbox's origin, if any."""
        hosts, networks = set(), []
        for entry in allow:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(
            production=production,
            allow_hosts=frozenset(hosts),
            allow_networks=tuple(networks),
            own_origin=own_origin,
        )

    def is_own_origin(self, host: str, port: int | None) -> bool:
        """Whether ``host:port`` is Flowker's own sandbox origin (never in production mode)."""
        if self.production or self.own_origin is None or port is None:
            return False
        return (host.lower().strip("[]").rstrip("."), port) == self.own_origin

    def host_allowed(self, host: str) -> bool:
        """Whether ``host`` is on the allow-list: by name, or an IP literal in an allowed network."""
        literal = _literal(host)
        if literal is not None:
            return any(literal in network for network in self.allow_networks)
        return host.lower().rstrip(".") in self.allow_hosts

    def check_address(self, host: str, address: IPAddress, port: int | None = None) -> None:
        """Raise :class:`DestinationRefused` when ``address`` (of ``host``:``port``) may not be reached."""
        kind = category(address)
        if kind is None or self.host_allowed(host) or any(address in n for n in self.allow_networks):
            return
        if self.is_own_origin(host, port):
            return
        if self.production:
            # The address itself goes to the operator's log only: an API client must not map the
            # internal network through error messages.
            log.warning("outbound request to %s refused: %s address %s", host, kind, address)
            raise DestinationRefused(
                f"outbound request to {host} refused: it resolves to a {kind} address; "
                "allow it with FLOWKER_OUTBOUND_ALLOW if it is meant to be reached"
            )
        if (host, str(address)) not in self._warned and len(self._warned) < _MAX_WARNED:
            self._warned.add((host, str(address)))
            log.warning(
                "outbound request to %s goes to a %s address (%s): allowed in development mode only",
                host,
                kind,
                address,
            )

    def check_url(self, scheme: str, host: str, port: int | None = None) -> None:
        """Raise :class:`DestinationRefused` for plain http in production mode (unless the host is allowed),
        and for an IP literal host that :meth:`check_address` refuses."""
        if self.production and scheme != "https" and not self.host_allowed(host):
            raise DestinationRefused(
                f"outbound request to {host} refused: production mode calls providers over https only"
            )
        literal = _literal(host)
        if literal is not None:
            self.check_address(host, literal, port)

    def refusal(self, url: str) -> str | None:
        """Why ``url`` would be refused before any resolution (plain http in production, an IP literal in
        a refused range), or ``None``: for checks when a configuration is saved."""
        parts = http_url(url)
        if parts is None:
            return None  # not an http(s) URL: validation refuses it with its own code
        try:
            self.check_url(parts.scheme, parts.hostname or "", _port(parts.scheme, parts))
        except DestinationRefused as exc:
            return str(exc)
        return None


def _port(scheme: str, parts: SplitResult) -> int | None:
    try:
        return parts.port or _DEFAULT_PORTS[scheme]
    except ValueError:  # not a port: validation refuses the URL with its own code
        return None


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
