"""A local OIDC issuer for Flowker's tests, on 127.0.0.1, and a provider API that checks its bearer tokens.

::

    async with OidcProvider() as issuer, StubProvider() as api:
        issuer.add_client("flowker", "s3cret", method="client_secret_basic")
        api.route("GET", "/accounts", issuer.protected((200, {"ok": True})))
        ...  # issuer_url = issuer.url; api calls must carry a token the issuer issued

The issuer serves discovery (``/.well-known/openid-configuration``) and a token endpoint (``/token``) with
the ``client_credentials``, ``password`` and ``refresh_token`` grants. It checks the client
authentication method each client is registered with (``client_secret_basic``: an HTTP Basic header and
no credentials in the form; ``client_secret_post``: both in the form and no header; ``none``: a
``client_id`` in the form only), issues tokens that expire after :attr:`OidcProvider.expires_in` seconds
(``None``: no ``expires_in`` in the answer, the token never expires), and answers the errors of RFC 6749
§5.2. Tests can revoke access tokens or refresh tokens, change a client's secret, script failures
(:meth:`OidcProvider.fail_next`) and slow the token endpoint (:attr:`OidcProvider.delay`). Every request
is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from tests.helpers.stub_provider import Reply


@dataclass(frozen=True)
class TokenRequest:
    """One request to the token endpoint, as the issuer understood it.

    Attributes:
        grant: The ``grant_type`` sent.
        client_id: The client that authenticated (or tried to), ``None`` when none could be read.
        method: How the client authenticated: ``client_secret_basic``, ``client_secret_post`` or ``none``.
        form: The form fields, credentials included (tests check what was sent).
        outcome: ``issued`` or the ``error`` code answered.
    """

    grant: str
    client_id: str | None
    method: str
    form: dict[str, str]
    outcome: str


@dataclass
class _Client:
    secret: str | None
    method: str


@dataclass
class _Issued:
    subject: str
    expires_at: float | None
    revoked: bool = False


@dataclass
class OidcProvider:
    """An OIDC issuer on an ephemeral port of 127.0.0.1, started on the running event loop."""

    expires_in: float | None = 300
    issue_refresh_tokens: bool = True
    #: Seconds the token endpoint waits before it answers.
    delay: float = 0.0
    url: str = ""
    discoveries: int = 0
    token_requests: list[TokenRequest] = field(default_factory=list)
    #: Tokens :meth:`protected` refused.
    refused: list[str] = field(default_factory=list)
    _clients: dict[str, _Client] = field(default_factory=dict)
    _users: dict[str, str] = field(default_factory=dict)
    _access: dict[str, _Issued] = field(default_factory=dict)
    _refresh: dict[str, _Issued] = field(default_factory=dict)
    _failures: list[tuple[int, Any]] = field(default_factory=list)
    _serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    # --- What a test sets up -----------------------------------------------------------------------
    def add_client(self, client_id: str, secret: str | None, method: str = "client_secret_basic") -> None:
        """Register (or re-register: a secret rotation) a client and the authentication method it must use."""
        self._clients[client_id] = _Client(secret, method)

    def add_user(self, username: str, password: str) -> None:
        """Register a resource owner for the password grant."""
        self._users[username] = password

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far is refused from now on."""
        for issued in self._access.values():
            issued.revoked = True

    def revoke_refresh_tokens(self) -> None:
        """Every refresh token issued so far is refused from now on (``invalid_grant``)."""
        for issued in self._refresh.values():
            issued.revoked = True

    def fail_next(self, status: int, body: Any = None, times: int = 1) -> None:
        """Answer the next ``times`` token requests with ``status`` and ``body`` (JSON) instead."""
        self._failures.extend([(status, body)] * times)

    # --- What a test reads -------------------------------------------------------------------------
    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/token"

    def grants(self) -> list[str]:
        """The ``grant_type`` of every token request, oldest first."""
        return [r.grant for r in self.token_requests]

    def tokens_issued(self) -> list[str]:
        """Every access token issued so far."""
        return list(self._access)

    def issued(self) -> int:
        """Tokens issued so far."""
        return sum(1 for r in self.token_requests if r.outcome == "issued")

    def valid(self, token: str) -> bool:
        """Whether ``token`` is an access token this issuer issued, not revoked and not expired."""
        issued = self._access.get(token)
        if issued is None or issued.revoked:
            return False
        return issued.expires_at is None or time.monotonic() < issued.expires_at

    def protected(self, reply: Reply) -> Any:
        """A :class:`~tests.helpers.stub_provider.StubProvider` script: ``reply`` for a request whose
        ``Authorization: Bearer`` token is valid, else 401 with ``WWW-Authenticate: Bearer
        error="invalid_token"``. Refused tokens are counted in :attr:`refused`."""

        def check(_body: Any, request: web.Request) -> Reply:
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme == "Bearer" and self.valid(token):
                return reply
            self.refused.append(token)
            return (401, {"error": "invalid_token"}, {"WWW-Authenticate": 'Bearer error="invalid_token"'})

        return check

    # --- The server --------------------------------------------------------------------------------
    async def __aenter__(self) -> Self:
        app = web.Application()
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        app.router.add_post("/token", self._token)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _discovery(self, request: web.Request) -> web.Response:
        self.discoveries += 1
        return web.json_response(
            {
                "issuer": self.url,
                "token_endpoint": self.token_endpoint,
                "grant_types_supported": ["client_credentials", "password", "refresh_token"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            }
        )

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        grant = form.get("grant_type", "")
        client_id, secret, method = _client_credentials(request, form)
        if self.delay:
            await asyncio.sleep(self.delay)

        def answer(status: int, outcome: str, body: Any) -> web.Response:
            self.token_requests.append(TokenRequest(grant, client_id, method, form, outcome))
            return web.json_response(body, status=status)

        def error(status: int, code: str, description: str) -> web.Response:
            return answer(status, code, {"error": code, "error_description": description})

        if self._failures:
            status, body = self._failures.pop(0)
            return answer(status, f"scripted {status}", body)
        client = self._clients.get(client_id or "")
        if (
            client is None
            or client.method != method
            or (client.secret is not None and secret != client.secret)
        ):
            # RFC 6749 §5.2: 401 when the client tried HTTP Basic, 400 otherwise.
            status = 401 if method == "client_secret_basic" else 400
            return error(status, "invalid_client", "Client authentication failed (bad secret or method)")
        if grant == "client_credentials":
            subject = f"client:{client_id}"
        elif grant == "password":
            username = form.get("username", "")
            if self._users.get(username) != form.get("password") or not username:
                return error(400, "invalid_grant", "Invalid user credentials")
            subject = f"user:{username}"
        elif grant == "refresh_token":
            issued = self._refresh.get(form.get("refresh_token", ""))
            if issued is None or issued.revoked:
                return error(400, "invalid_grant", "Token is not active")
            subject = issued.subject
        else:
            return error(400, "unsupported_grant_type", f"grant {grant!r} is not supported")
        serial = next(self._serial)
        access = f"at-{serial}-{base64.urlsafe_b64encode(serial.to_bytes(4, 'big')).decode().rstrip('=')}"
        expires_at = None if self.expires_in is None else time.monotonic() + self.expires_in
        self._access[access] = _Issued(subject, expires_at)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "scope": form.get("scope", ""),
        }
        if self.expires_in is not None:
            body["expires_in"] = self.expires_in
        if self.issue_refresh_tokens and grant != "client_credentials":
            refresh = f"rt-{serial}"
            self._refresh[refresh] = _Issued(subject, None)
            body["refresh_token"] = refresh
        return answer(200, "issued", body)


def _client_credentials(request: web.Request, form: dict[str, str]) -> tuple[str | None, str | None, str]:
    """Who the client says it is, its secret, and how it said so."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme == "Basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None, None, "client_secret_basic"
        if "client_secret" in form:
            return client_id, secret, "both"  # RFC 6749 §2.3: one method per request
        return client_id, secret, "client_secret_basic"
    if "client_secret" in form:
        return form.get("client_id"), form["client_secret"], "client_secret_post"
    return form.get("client_id"), None, "none"
