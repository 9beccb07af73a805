"""OAuth 2.0 access tokens for the OIDC authentication types, the Ray-free core of an executor's token cache.

One :class:`TokenSource` per executor configuration (per executor actor, so one for the cluster) holds
one token and hands it to every call:

* ``oidc_client_credentials``: the ``client_credentials`` grant, the client authenticated with
  ``client_secret_basic`` (default) or ``client_secret_post``; ``scopes`` space-joined, ``audience`` and
  ``extra_params`` added to the form.
* ``oidc_user``: the ``password`` grant (scopes default ``["openid"]``), then the ``refresh_token`` grant
  when a refresh token was issued and ``cache.use_refresh_token`` (default true); a refused refresh
  token (revoked, expired) falls back to a new password grant.
* The token endpoint is ``token_url`` when given, else discovered from ``issuer_url``
  (:mod:`flowker.actors.oidc_discovery`).
* Single flight: callers that find no fresh token wait for one token request together, and share its
  outcome, a failure included.
* A token is renewed ``refresh_margin`` seconds before it expires (at most half its lifetime before), is
  kept at most ``max_lifetime`` seconds, and that long when its issuer gives no ``expires_in``.
  ``cache.enabled = false`` means a new token for every call.
* :meth:`TokenSource.invalidate` drops the token a provider refused, only if it is still the current
  one: 50 calls refused with the same stale token cause one renewal.

Failures are :class:`~flowker.errors.TokenUnavailable`: transient ones (network, timeout, 5xx, 429)
:class:`~flowker.errors.TokenEndpointFailed` for the caller's retry loop, the others
:class:`~flowker.errors.TokenRefused` naming the configuration and the issuer's ``error`` code. Built on
authlib's OAuth 2 building blocks (``prepare_token_request``, ``ClientAuth``) over the executor's
aiohttp session; authlib's ``OAuth2Token`` reads the system clock, so expiry is computed here from the
injected one. No token, secret or password is in a ``repr``, a log line or a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_token_request

from flowker.actors.issuer_http import describe_issuer_error, exchange, issuer_error, shown_url
from flowker.actors.oidc_discovery import Discovery
from flowker.actors.transport import ProviderRequest
from flowker.domain.authentication import DEFAULT_REFRESH_ON
from flowker.errors import TokenRefused
from flowker.telemetry import catalog
from flowker.telemetry.recorder import RECORDER
from flowker.tunables import MAX_TOKEN_ANSWER_BYTES, MAX_TOKEN_CHARS

log = logging.getLogger("flowker.tokens")

#: Form fields that ``extra_params`` cannot override: the grant and the client's and user's credentials.
RESERVED_PARAMS = frozenset(
    {"grant_type", "client_id", "client_secret", "username", "password", "refresh_token"}
)
#: A token goes into a header: visible ASCII only, so that no token can inject a header line.
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")
_DIGITS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class TokenSettings:
    """The global token settings (``FLOWKER_TOKEN_*``)."""

    refresh_margin_seconds: float = 60.0
    max_lifetime_seconds: float = 3600.0

    @classmethod
    def of(cls, config: Any) -> TokenSettings:
        """From the ``token_*`` fields of a :class:`~flowker.settings.Settings` or a ``RuntimeConfig``."""
        return cls(config.token_refresh_margin_seconds, config.token_max_lifetime_seconds)


@dataclass(frozen=True)
class OidcClient:
    """What one OIDC configuration asks of its issuer (the clear authentication block, checked)."""

    config_name: str
    kind: str  # oidc_client_credentials | oidc_user
    client_id: str
    issuer_url: str | None = None
    token_url: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    auth_method: str = "client_secret_basic"
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    extra_params: tuple[tuple[str, str], ...] = field(default=(), repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cache_enabled: bool = True
    refresh_margin_seconds: float = 60.0
    use_refresh_token: bool = True
    refresh_on: frozenset[int] = frozenset(DEFAULT_REFRESH_ON)
    max_lifetime_seconds: float = 3600.0

    @property
    def what(self) -> str:
        """How messages name the configuration."""
        return f"executor configuration {self.config_name!r}:"

    def secrets(self) -> tuple[str, ...]:
        """Every credential value, to mask wherever an issuer might echo one."""
        values = [self.client_secret or "", self.password or ""] + [v for _k, v in self.extra_params]
        return tuple(v for v in values if v)


@dataclass(frozen=True)
class Token:
    """An access token and when to renew it (on the source's clock).

    Attributes:
        access_token: The token sent as ``Authorization: Bearer``.
        refresh_token: The refresh token the issuer gave with it, if any.
        obtained_at: When it was asked for.
        expires_at: When it expires: ``expires_in`` (capped) or the maximum lifetime after ``obtained_at``.
        refresh_at: From when it is renewed before use; ``-inf`` once a provider refused it.
        grant: The grant that obtained it.
        endpoint: The token endpoint, without query string.
        status: The issuer's HTTP status.
    """

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    obtained_at: float
    expires_at: float
    refresh_at: float
    grant: str
    endpoint: str
    status: int

    @property
    def lifetime(self) -> float:
        """Seconds it was given."""
        return self.expires_at - self.obtained_at


class TokenSource:
    """The current token of one OIDC configuration, obtained once for all its concurrent calls."""

    def __init__(
        self,
        client: OidcClient,
        session: aiohttp.ClientSession,
        *,
        now: Callable[[], float] = time.monotonic,
        discovery: Discovery | None = None,
    ) -> None:
        self.client = client
        self._session = session
        self._now = now
        self._discovery = discovery
        if discovery is None and client.token_url is None and client.issuer_url is not None:
            self._discovery = Discovery(client.issuer_url, what=client.what, now=now)
        self._token: Token | None = None
        self._pending: asyncio.Future[Token] | None = None
        #: Token requests made, by grant (diagnostics and tests).
        self.requests: list[str] = []
        #: The method and URL of the last request to the issuer (for the connectivity test).
        self.asked: tuple[str, str] | None = None

    @property
    def current(self) -> Token | None:
        """The kept token, fresh or not."""
        return self._token

    def _fresh(self, token: Token | None) -> bool:
        return token is not None and self._now() < token.refresh_at

    async def token(self) -> Token:
        """A token to send now: the kept one while fresh, else one obtained for every waiting caller.

        Raises:
            TokenUnavailable: No token could be obtained (see the module's description).
        """
        if not self.client.cache_enabled:
            return await self._obtain(None)
        if self._fresh(self._token):
            assert self._token is not None
            return self._token
        if self._pending is None:
            self._pending = asyncio.ensure_future(self._renew(self._token))
            self._pending.add_done_callback(_retrieve)
        # A caller that is cancelled does not cancel the request the others wait for.
        return await asyncio.shield(self._pending)

    async def _renew(self, previous: Token | None) -> Token:
        try:
            token = await self._obtain(previous)
            self._token = token
            return token
        finally:
            self._pending = None

    def invalidate(self, access_token: str) -> bool:
        """A provider refused ``access_token``: renew before the next use, if it is still the current one.

        The refresh token, if any, is kept for the renewal. Returns whether the current token was dropped.
        """
        current = self._token
        if current is None or current.access_token != access_token or current.refresh_at == -math.inf:
            return False
        self._token = replace(current, refresh_at=-math.inf)
        return True

    async def _obtain(self, previous: Token | None) -> Token:
        client = self.client
        if (
            client.kind == "oidc_user"
            and client.use_refresh_token
            and previous is not None
            and previous.refresh_token
        ):
            try:
                return await self._grant("refresh_token", previous.refresh_token, {})
            except TokenRefused as exc:
                log.info(
                    "executor configuration %r: refresh token refused (%s); asking for a new token",
                    client.config_name,
                    exc.issuer_error or f"HTTP {exc.status}",
                )
        if client.kind == "oidc_user":
            params = {"username": client.username or "", "password": client.password or ""}
            return await self._grant("password", None, params)
        return await self._grant("client_credentials", None, {})

    async def _endpoint(self) -> str:
        if self.client.token_url is not None:
            return self.client.token_url
        assert self._discovery is not None
        self.asked = ("GET", self._discovery.url)
        return await self._discovery.token_endpoint(self._session)

    async def _grant(self, grant: str, refresh_token: str | None, params: dict[str, str]) -> Token:
        try:
            token = await self._request_grant(grant, refresh_token, params)
        except Exception:
            RECORDER.inc(catalog.TOKEN_FETCHES, grant, "failed")
            raise
        RECORDER.inc(catalog.TOKEN_FETCHES, grant, "ok")
        return token

    async def _request_grant(self, grant: str, refresh_token: str | None, params: dict[str, str]) -> Token:
        client = self.client
        endpoint = await self._endpoint()
        form: dict[str, Any] = {}
        if grant == "refresh_token":
            form["refresh_token"] = refresh_token
        else:
            form.update(params)
            for name, value in client.extra_params:
                if name not in RESERVED_PARAMS:
                    form[name] = value
            if client.scopes:
                form["scope"] = list(client.scopes)
            if client.audience:
                form["audience"] = client.audience
        body = prepare_token_request(grant, **form)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        method = client.auth_method if client.client_secret else "none"
        try:
            _uri, headers, body = ClientAuth(client.client_id, client.client_secret, method).prepare(
                "POST", endpoint, headers, body
            )
        except UnicodeEncodeError:
            raise TokenRefused(
                f"{client.what} client_id and client_secret are not Latin-1 text, which "
                "client_secret_basic cannot send; use client_secret_post"
            ) from None
        obtained_at = self._now()
        self.requests.append(grant)
        self.asked = ("POST", endpoint)
        where = f"{client.what} token endpoint"
        answer = await exchange(
            self._session,
            "POST",
            endpoint,
            what=where,
            limit=MAX_TOKEN_ANSWER_BYTES,
            headers=headers,
            data=body,
        )
        secrets = (*client.secrets(), *([refresh_token] if refresh_token else []))
        if not 200 <= answer.status <= 299:
            raise TokenRefused(
                f"{where} {shown_url(endpoint)} refused the {grant} grant: HTTP {answer.status}"
                + describe_issuer_error(answer.body, secrets),
                status=answer.status,
                issuer_error=issuer_error(answer.body),
            )
        return self._token_from(answer.body, answer.status, grant, endpoint, obtained_at, refresh_token)

    def _token_from(
        self,
        body: Mapping[str, Any] | None,
        status: int,
        grant: str,
        endpoint: str,
        obtained_at: float,
        previous_refresh: str | None,
    ) -> Token:
        client = self.client

        def unusable(why: str) -> TokenRefused:
            return TokenRefused(
                f"{client.what} token endpoint {shown_url(endpoint)} answered HTTP {status} but {why}",
                status=status,
            )

        if body is None:
            raise unusable("not with a JSON object")
        access = body.get("access_token")
        if not _token_text(access):
            raise unusable(
                f"with no usable access_token (at most {MAX_TOKEN_CHARS} visible ASCII characters)"
            )
        kind = body.get("token_type", "Bearer")
        if not isinstance(kind, str) or kind.lower() != "bearer":
            raise unusable("with a token_type other than Bearer, the only one supported")
        refresh = body.get("refresh_token")
        if refresh is not None and not _token_text(refresh):
            raise unusable("with a refresh_token that is not a usable string")
        expires_in = body.get("expires_in")
        if expires_in is None:
            lifetime = client.max_lifetime_seconds
        else:
            seconds = _seconds(expires_in)
            if seconds is None:
                raise unusable("with an expires_in that is not a number of seconds")
            lifetime = min(max(seconds, 0.0), client.max_lifetime_seconds)
        expires_at = obtained_at + lifetime
        return Token(
            access_token=access,
            # An issuer that issues no new refresh token leaves the previous one usable (RFC 6749 §6).
            refresh_token=refresh or previous_refresh,
            obtained_at=obtained_at,
            expires_at=expires_at,
            refresh_at=expires_at - min(client.refresh_margin_seconds, lifetime / 2),
            grant=grant,
            endpoint=shown_url(endpoint),
            status=status,
        )


def _token_text(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TOKEN_CHARS and bool(_TOKEN_CHARS.fullmatch(value))


def _seconds(value: Any) -> float | None:
    if type(value) in (int, float) and math.isfinite(value):
        return float(value)
    if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
        return float(value.strip())  # some issuers send "3600"
    return None


def _retrieve(future: asyncio.Future[Token]) -> None:
    # Every waiter gets the failure; this only keeps asyncio from reporting it as never retrieved.
    if not future.cancelled():
        with contextlib.suppress(Exception):
            future.exception()


@dataclass(frozen=True)
class OidcAuth:
    """Types ``oidc_client_credentials`` and ``oidc_user``: ``Authorization: Bearer <token>``."""

    source: TokenSource

    async def apply(self, request: ProviderRequest) -> ProviderRequest:
        """Set the ``Authorization`` header with the current token (obtaining one if needed)."""
        token = await self.source.token()
        return request.with_header("Authorization", f"Bearer {token.access_token}", sensitive=True)

    def refused(self, request: ProviderRequest, status: int) -> bool:
        """Whether the provider's ``status`` to ``request`` asks for one token refresh and one retry
        (a status of ``refresh_on``); if so, the token ``request`` carried is dropped, if still current."""
        if status not in self.source.client.refresh_on:
            return False
        sent = next((v for k, v in request.headers.items() if k.lower() == "authorization"), "")
        self.source.invalidate(sent.removeprefix("Bearer "))
        return True
