"""Credentials on an outbound provider request, per authentication type (reference 4.4).

:func:`authenticator_for` takes the clear block that
:func:`~flowker.domain.authentication.open_authentication` returns. Authenticators only set headers or
query parameters, and mark them sensitive so that no ``repr`` or error message shows them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from flowker.actors.transport import ProviderRequest
from flowker.secretbox import is_sealed

OIDC_TYPES = ("oidc_client_credentials", "oidc_user")


class Authenticator(Protocol):
    """Adds one authentication type's credentials to a request."""

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Return a copy of ``request`` carrying the credentials."""
        ...


@dataclass(frozen=True)
class NoAuth:
    """Type ``none``: the request goes out as it is."""

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Return ``request`` unchanged."""
        return request


@dataclass(frozen=True)
class ApiKeyAuth:
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
class BearerAuth:
    """Type ``bearer``: ``Authorization: Bearer <token>``."""

    token: str = field(repr=False)

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Set the ``Authorization`` header."""
        return request.with_header("Authorization", f"Bearer {self.token}", sensitive=True)


@dataclass(frozen=True)
class BasicAuth:
    """Type ``basic``: ``Authorization: Basic base64(username:password)``, UTF-8 encoded."""

    username: str
    password: str = field(repr=False)

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Set the ``Authorization`` header."""
        credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode("ascii")
        return request.with_header("Authorization", f"Basic {credentials}", sensitive=True)


def authenticator_for(authentication: Mapping[str, Any]) -> Authenticator:
    """The authenticator for a clear (opened) authentication block ``{"type", "config"}``.

    Raises:
        NotImplementedError: For the OIDC types, which need a token source.
        ValueError: For an unknown type, a missing required field, or a secret that is still sealed.
            Messages name fields, never values.
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
        raise NotImplementedError(f"authentication type {kind} arrives with the OIDC token source")
    raise ValueError(f"unknown authentication type {kind!r}")


def _secret(config: Mapping[str, Any], name: str, kind: str) -> str:
    value = config.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"authentication.config.{name} is required for {kind}")
    if is_sealed(value):
        # Sending the ciphertext would fail at the provider with a misleading 401.
        raise ValueError(f"authentication.config.{name} is still sealed; open the block first")
    return value
