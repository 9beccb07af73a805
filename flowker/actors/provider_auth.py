"""Credentials on an outbound provider request, per authentication type (reference 4.4).

:func:`authenticator_for` takes the clear block that
:func:`~flowker.domain.authentication.open_authentication` returns. Authenticators only set headers or
query parameters, and mark them sensitive so that no ``repr`` or error message shows them. The OIDC
types get their token from a :class:`~flowker.actors.token_source.TokenSource` over the executor's
session; only they ask for a token refresh when the provider refuses a call (:meth:`Authenticator.refused`).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp

from flowker.actors.token_source import OidcAuth, OidcClient, TokenSettings, TokenSource
from flowker.actors.transport import ProviderRequest
from flowker.domain.authentication import DEFAULT_REFRESH_ON
from flowker.secretbox import is_sealed

OIDC_TYPES = ("oidc_client_credentials", "oidc_user")
#: The types whose credentials are static (no token): a call with them may be sent by any process that can
#: open the configuration (:mod:`flowker.actors.direct_calls`), with no token cache to share.
STATIC_TYPES = ("none", "api_key", "bearer", "basic")


class Authenticator(Protocol):
    """Adds one authentication type's credentials to a request."""

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Return a copy of ``request`` carrying the credentials."""
        ...

    def refused(self, request: ProviderRequest, status: int) -> bool:
        """Whether the provider's answer ``status`` to ``request`` calls for one retry with renewed
        credentials (and renew them); never for static credentials."""
        ...


class _Static:
    """Credentials that cannot be renewed: a refusal is final."""

    def refused(self, request: ProviderRequest, status: int) -> bool:
        """Never: the same credentials would be refused again."""
        return False


@dataclass(frozen=True)
class NoAuth(_Static):
    """Type ``none``: the request goes out as it is."""

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Return ``request`` unchanged."""
        return request


@dataclass(frozen=True)
class ApiKeyAuth(_Static):
    """Type ``api_key``: ``prefix + key`` in a header or a query parameter."""

    key: str = field(repr=False)
    header_name: str = "X-API-Key"
    prefix: str = ""
    location: str = "header"
    query_param_name: str = "api_key"

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Set the header, or add (replacing any of the same name) the URL-encoded query parameter."""
        value = self.prefix + self.key
        if self.location == "query":
            return request.with_query_param(self.query_param_name, value, sensitive=True)
        return request.with_header(self.header_name, value, sensitive=True)


@dataclass(frozen=True)
class BearerAuth(_Static):
    """Type ``bearer``: ``Authorization: Bearer <token>``."""

    token: str = field(repr=False)

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Set the ``Authorization`` header."""
        return request.with_header("Authorization", f"Bearer {self.token}", sensitive=True)


@dataclass(frozen=True)
class BasicAuth(_Static):
    """Type ``basic``: ``Authorization: Basic base64(username:password)``, UTF-8 encoded."""

    username: str
    password: str = field(repr=False)

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Set the ``Authorization`` header."""
        credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return request.with_header("Authorization", f"Basic {credentials}", sensitive=True)


def is_static(authenticator: Authenticator) -> bool:
    """Whether ``authenticator`` holds static credentials (no token, nothing to renew)."""
    return isinstance(authenticator, _Static)


def authenticator_for(
    authentication: Mapping[str, Any],
    *,
    session: aiohttp.ClientSession | None = None,
    tokens: TokenSettings | None = None,
    config_name: str = "",
) -> Authenticator:
    """The authenticator for a clear (opened) authentication block ``{"type", "config"}``.

    Args:
        session: The HTTP session the OIDC types ask their issuer with (required for them).
        tokens: The global token settings (defaults: margin 60 s, lifetime 3600 s).
        config_name: Names the configuration in token errors.

    Raises:
        ValueError: For an unknown type, a missing required field, a secret that is still sealed, or an
            OIDC type without a session. Messages name fields, never values.
    """
    kind = authentication.get("type") or "none"
    config: Mapping[str, Any] = authentication.get("config") or {}
    if kind == "none":
        return NoAuth()
    if kind == "api_key":
        return ApiKeyAuth(
            key=_secret(config, "key", kind),
            header_name=config.get("header_name") or "X-API-Key",
            prefix=config.get("prefix") or "",
            location=config.get("location") or "header",
            query_param_name=config.get("query_param_name") or "api_key",
        )
    if kind == "bearer":
        return BearerAuth(token=_secret(config, "token", kind))
    if kind == "basic":
        username = config.get("username")
        if not isinstance(username, str) or not username:
            raise ValueError("authentication.config.username is required for basic")
        return BasicAuth(username=username, password=_secret(config, "password", kind))
    if kind in OIDC_TYPES:
        if session is None:
            raise ValueError(f"authentication type {kind} needs an HTTP session for its token requests")
        client = oidc_client(kind, config, tokens or TokenSettings(), config_name)
        return OidcAuth(TokenSource(client, session))
    raise ValueError(f"unknown authentication type {kind!r}")


def _secret(config: Mapping[str, Any], name: str, kind: str) -> str:
    value = config.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"authentication.config.{name} is required for {kind}")
    if is_sealed(value):
        # Sending the ciphertext would fail at the provider with a misleading 401.
        raise ValueError(f"authentication.config.{name} is still sealed; open the block first")
    return value


def oidc_client(kind: str, config: Mapping[str, Any], tokens: TokenSettings, config_name: str) -> OidcClient:
    """The checked OIDC fields of a clear block, with the cache settings applied over ``tokens``."""
    client_id = config.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise ValueError(f"authentication.config.client_id is required for {kind}")
    issuer_url, token_url = config.get("issuer_url") or None, config.get("token_url") or None
    if issuer_url is None and token_url is None:
        raise ValueError(f"authentication.config.issuer_url or token_url is required for {kind}")
    if kind == "oidc_client_credentials":
        secret: str | None = _secret(config, "client_secret", kind)
        username = password = None
        default_scopes: list[str] = []
    else:
        secret = _secret(config, "client_secret", kind) if config.get("client_secret") else None
        username = config.get("username")
        if not isinstance(username, str) or not username:
            raise ValueError(f"authentication.config.username is required for {kind}")
        password = _secret(config, "password", kind)
        default_scopes = ["openid"]
    extra = config.get("extra_params") or {}
    if any(isinstance(v, str) and is_sealed(v) for v in extra.values()):
        raise ValueError("authentication.config.extra_params holds a sealed value; open the block first")
    cache: Mapping[str, Any] = config.get("cache") or {}
    margin = cache.get("refresh_before_expiry_seconds")
    return OidcClient(
        config_name=config_name,
        kind=kind,
        client_id=client_id,
        issuer_url=issuer_url,
        token_url=token_url,
        client_secret=secret,
        auth_method=config.get("token_endpoint_auth_method") or "client_secret_basic",
        scopes=tuple(config.get("scopes") or default_scopes),
        audience=config.get("audience") or None,
        extra_params=tuple((str(k), str(v)) for k, v in extra.items()),
        username=username,
        password=password,
        cache_enabled=cache.get("enabled", True),
        refresh_margin_seconds=float(tokens.refresh_margin_seconds if margin is None else margin),
        use_refresh_token=cache.get("use_refresh_token", True),
        refresh_on=frozenset(config.get("refresh_on", DEFAULT_REFRESH_ON)),
        max_lifetime_seconds=tokens.max_lifetime_seconds,
    )
