"""The OIDC token source without Ray: real HTTP to a local issuer on 127.0.0.1, a clock the test moves."""

from __future__ import annotations

import asyncio
import base64
import socket
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from flowker.actors.provider_auth import oidc_client
from flowker.actors.token_source import OidcAuth, OidcClient, TokenSettings, TokenSource
from flowker.actors.transport import ProviderRequest
from flowker.codes import TOKEN_ENDPOINT_FAILED, TOKEN_REFUSED
from flowker.errors import TokenEndpointFailed, TokenRefused
from tests.fakes.clock import FakeClock
from tests.helpers.oidc_provider import OidcProvider
from tests.helpers.stub_provider import StubProvider

SECRET = "cc-secret-Zq81-very-private"
PASSWORD = "user-password-Xk22-private"


@pytest.fixture
async def issuer() -> AsyncIterator[OidcProvider]:
    async with OidcProvider(expires_in=300) as started:
        started.add_client("flowker", SECRET, method="client_secret_basic")
        started.add_client("flowker-post", SECRET, method="client_secret_post")
        started.add_client("flowker-ui", None, method="none")
        started.add_user("ana", PASSWORD)
        yield started


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as opened:
        yield opened


def client_credentials(issuer: OidcProvider, **config: Any) -> dict[str, Any]:
    return {"issuer_url": issuer.url, "client_id": "flowker", "client_secret": SECRET, **config}


def user(issuer: OidcProvider, **config: Any) -> dict[str, Any]:
    return {"token_url": issuer.token_endpoint, "client_id": "flowker-ui", "username": "ana",
            "password": PASSWORD, **config}  # fmt: skip


def source(
    session: aiohttp.ClientSession,
    config: dict[str, Any],
    clock: FakeClock,
    kind: str = "oidc_client_credentials",
    tokens: TokenSettings | None = None,
) -> TokenSource:
    client = oidc_client(kind, config, tokens or TokenSettings(), "kyc-idp")
    return TokenSource(client, session, now=clock)


# --------------------------------------------------------------------------- client credentials


async def test_client_secret_basic_with_discovery_scopes_audience_and_extra_params(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    config = client_credentials(
        issuer, scopes=["kyc.read", "kyc.write"], audience="kyc-api", extra_params={"resource": "urn:kyc"}
    )
    tokens = source(session, config, FakeClock())
    token = await tokens.token()
    assert issuer.valid(token.access_token) and token.grant == "client_credentials"
    assert issuer.discoveries == 1
    [sent] = issuer.token_requests
    assert (sent.grant, sent.client_id, sent.method, sent.outcome) == (
        "client_credentials", "flowker", "client_secret_basic", "issued"
    )  # fmt: skip
    assert sent.form == {
        "grant_type": "client_credentials",
        "scope": "kyc.read kyc.write",
        "audience": "kyc-api",
        "resource": "urn:kyc",
    }


async def test_client_secret_post_sends_the_credentials_in_the_form_and_no_header(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    config = client_credentials(
        issuer, client_id="flowker-post", token_endpoint_auth_method="client_secret_post"
    )
    token = await source(session, config, FakeClock()).token()
    assert issuer.valid(token.access_token)
    [sent] = issuer.token_requests
    assert sent.method == "client_secret_post"
    assert sent.form["client_id"] == "flowker-post" and sent.form["client_secret"] == SECRET


async def test_extra_params_cannot_override_the_grant_or_the_credentials(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    config = client_credentials(issuer, extra_params={"grant_type": "password", "client_id": "evil"})
    await source(session, config, FakeClock()).token()
    assert issuer.token_requests[0].form == {"grant_type": "client_credentials"}
    assert issuer.token_requests[0].client_id == "flowker"


async def test_fifty_concurrent_callers_cause_one_token_request(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    issuer.delay = 0.05  # every caller arrives while the first request is on its way
    tokens = source(session, client_credentials(issuer), FakeClock())
    got = await asyncio.gather(*(tokens.token() for _ in range(50)))
    assert len({t.access_token for t in got}) == 1
    assert issuer.grants() == ["client_credentials"] and issuer.discoveries == 1


async def test_the_token_is_renewed_the_margin_before_it_expires(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    tokens = source(session, client_credentials(issuer), clock)  # expires_in 300, margin 60
    first = await tokens.token()
    assert (first.expires_at - first.obtained_at, first.refresh_at - first.obtained_at) == (300, 240)
    clock.advance(239.9)
    assert await tokens.token() is first and issuer.issued() == 1
    clock.advance(0.2)
    second = await tokens.token()
    assert second.access_token != first.access_token and issuer.issued() == 2
    assert issuer.discoveries == 1  # the discovery document is kept for an hour


async def test_a_configuration_margin_wins_and_a_margin_beyond_half_the_lifetime_is_halved(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    own = await source(
        session, client_credentials(issuer, cache={"refresh_before_expiry_seconds": 10}), clock
    ).token()
    assert own.refresh_at - own.obtained_at == 290
    wide = await source(
        session, client_credentials(issuer, cache={"refresh_before_expiry_seconds": 1000}), clock
    ).token()
    assert wide.refresh_at - wide.obtained_at == 150


@pytest.mark.parametrize(("expires_in", "kept"), [(7200, 3600), (None, 3600), (120, 120), ("90", 90), (0, 0)])
async def test_the_lifetime_is_capped_and_defaults_to_the_maximum(
    issuer: OidcProvider, session: aiohttp.ClientSession, expires_in: Any, kept: float
) -> None:
    issuer.expires_in = expires_in if not isinstance(expires_in, str) else None
    tokens = source(session, client_credentials(issuer), FakeClock(), tokens=TokenSettings(60, 3600))
    if isinstance(expires_in, str):
        stub_answer = {"access_token": "at-text", "token_type": "bearer", "expires_in": expires_in}
        async with StubProvider() as stub:
            stub.route("POST", "/token", (200, stub_answer))
            tokens = source(
                session, {**client_credentials(issuer), "token_url": stub.url + "/token"}, FakeClock()
            )
            token = await tokens.token()
    else:
        token = await tokens.token()
    assert token.lifetime == kept


async def test_a_disabled_cache_asks_for_a_token_on_every_call(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    tokens = source(session, client_credentials(issuer, cache={"enabled": False}), FakeClock())
    got = [await tokens.token() for _ in range(3)]
    assert len({t.access_token for t in got}) == 3 and issuer.issued() == 3


async def test_the_discovery_document_is_asked_for_again_after_an_hour(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    tokens = source(session, client_credentials(issuer), clock)
    await tokens.token()
    clock.advance(3000)
    await tokens.token()
    assert (issuer.discoveries, issuer.issued()) == (1, 2)
    clock.advance(700)
    await tokens.token()
    assert (issuer.discoveries, issuer.issued()) == (2, 3)


# --------------------------------------------------------------------------- oidc_user


async def test_password_grant_then_refresh_grant_then_password_again_when_the_refresh_token_is_revoked(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    tokens = source(session, user(issuer), clock, kind="oidc_user")
    first = await tokens.token()
    sent = issuer.token_requests[0]
    assert (sent.grant, sent.method, sent.form["scope"], sent.form["username"]) == (
        "password",
        "none",
        "openid",
        "ana",
    )
    assert first.refresh_token is not None
    clock.advance(250)
    second = await tokens.token()
    assert (
        second.grant == "refresh_token"
        and issuer.token_requests[1].form["refresh_token"] == first.refresh_token
    )
    issuer.revoke_refresh_tokens()
    clock.advance(250)
    third = await tokens.token()
    assert issuer.grants() == ["password", "refresh_token", "refresh_token", "password"]
    assert issuer.token_requests[2].outcome == "invalid_grant"
    assert third.grant == "password" and issuer.valid(third.access_token)


async def test_use_refresh_token_false_asks_for_a_new_password_grant(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    clock = FakeClock()
    tokens = source(session, user(issuer, cache={"use_refresh_token": False}), clock, kind="oidc_user")
    await tokens.token()
    clock.advance(250)
    await tokens.token()
    assert issuer.grants() == ["password", "password"]


async def test_a_wrong_password_is_refused_with_the_issuers_code_and_no_password(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    tokens = source(session, user(issuer, password="wrong-" + PASSWORD), FakeClock(), kind="oidc_user")
    with pytest.raises(TokenRefused) as refused:
        await tokens.token()
    assert refused.value.code == TOKEN_REFUSED and refused.value.issuer_error == "invalid_grant"
    assert PASSWORD not in refused.value.message and "'kyc-idp'" in refused.value.message


# --------------------------------------------------------------------------- refusals and failures


async def test_a_refused_secret_names_the_configuration_and_the_issuers_error_never_the_secret(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    tokens = source(session, client_credentials(issuer, client_secret="not-" + SECRET), FakeClock())
    with pytest.raises(TokenRefused) as refused:
        await tokens.token()
    error = refused.value
    assert (error.code, error.status, error.issuer_error, error.may_have_reached) == (
        TOKEN_REFUSED, 401, "invalid_client", False
    )  # fmt: skip
    assert "executor configuration 'kyc-idp'" in error.message and "error invalid_client" in error.message
    for text in (error.message, repr(error), repr(tokens.client)):
        assert SECRET not in text


async def test_an_issuer_that_echoes_the_secret_has_it_masked(session: aiohttp.ClientSession) -> None:
    answer = {
        "error": "invalid_client",
        "error_description": f"secret {SECRET} is wrong\r\nX-Evil: 1" + "x" * 500,
    }
    async with StubProvider() as stub:
        stub.route("POST", "/token", (400, answer))
        config = {"token_url": stub.url + "/token", "client_id": "c", "client_secret": SECRET}
        with pytest.raises(TokenRefused) as refused:
            await source(session, config, FakeClock()).token()
    message = refused.value.message
    assert SECRET not in message and "secret ******** is wrong" in message
    assert "\r" not in message and "\n" not in message and len(message) < 400


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_a_failing_issuer_is_transient_and_shared_by_every_waiting_caller(
    issuer: OidcProvider, session: aiohttp.ClientSession, status: int
) -> None:
    issuer.fail_next(status, {"error": "temporarily_unavailable"})
    issuer.delay = 0.05
    tokens = source(session, client_credentials(issuer, token_url=issuer.token_endpoint), FakeClock())
    outcomes = await asyncio.gather(*(tokens.token() for _ in range(20)), return_exceptions=True)
    assert all(isinstance(o, TokenEndpointFailed) for o in outcomes)
    failed = outcomes[0]
    assert isinstance(failed, TokenEndpointFailed)
    assert (failed.code, failed.retryable, failed.status) == (TOKEN_ENDPOINT_FAILED, True, status)
    assert len(issuer.token_requests) == 1
    assert issuer.valid((await tokens.token()).access_token)  # the next call asks again


async def test_an_unreachable_issuer_is_transient(session: aiohttp.ClientSession) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    config = {"issuer_url": f"http://127.0.0.1:{port}/realms/x", "client_id": "c", "client_secret": SECRET}
    with pytest.raises(TokenEndpointFailed, match=r"discovery .* network error \(Client"):
        await source(session, config, FakeClock()).token()


@pytest.mark.parametrize(
    ("document", "status", "reason"),
    [
        ({"issuer": "x"}, 200, "no http\\(s\\) token_endpoint"),
        ({"token_endpoint": "ftp://idp/token"}, 200, "no http\\(s\\) token_endpoint"),
        ({"error": "not_found"}, 404, "HTTP 404, error not_found"),
        ("<html>", 200, "HTTP 200 without a JSON object"),
    ],
)
async def test_a_discovery_document_without_a_token_endpoint_is_refused(
    session: aiohttp.ClientSession, document: Any, status: int, reason: str
) -> None:
    async with StubProvider() as stub:
        stub.route("GET", "/.well-known/openid-configuration", (status, document))
        config = {"issuer_url": stub.url, "client_id": "c", "client_secret": SECRET}
        with pytest.raises(TokenRefused, match=reason):
            await source(session, config, FakeClock()).token()


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"token_type": "Bearer"}, "no usable access_token"),
        ({"access_token": "a b", "token_type": "Bearer"}, "no usable access_token"),
        ({"access_token": "abc\r\nX-Evil: 1"}, "no usable access_token"),
        ({"access_token": 12}, "no usable access_token"),
        ({"access_token": "x" * 20000}, "no usable access_token"),
        ({"access_token": "abc", "token_type": "mac"}, "token_type other than Bearer"),
        ({"access_token": "abc", "expires_in": "soon"}, "expires_in that is not a number"),
        ({"access_token": "abc", "expires_in": True}, "expires_in that is not a number"),
        ({"access_token": "abc", "refresh_token": ["r"]}, "refresh_token that is not a usable string"),
        ("access_token=abc", "not with a JSON object"),
        (b"x" * (65 * 1024), "answered more than 65536 bytes"),
    ],
)
async def test_an_answer_that_is_no_usable_token_is_refused(
    session: aiohttp.ClientSession, answer: Any, reason: str
) -> None:
    async with StubProvider() as stub:
        stub.route("POST", "/token", (200, answer))
        config = {"token_url": stub.url + "/token", "client_id": "c", "client_secret": SECRET}
        with pytest.raises(TokenRefused, match=reason) as refused:
            await source(session, config, FakeClock()).token()
    assert "abc" not in refused.value.message


async def test_a_redirecting_token_endpoint_is_not_followed(session: aiohttp.ClientSession) -> None:
    async with StubProvider() as stub:
        stub.route("POST", "/token", (307, None, {"Location": "http://127.0.0.1:9/elsewhere"}))
        config = {"token_url": stub.url + "/token", "client_id": "c", "client_secret": SECRET}
        with pytest.raises(TokenRefused, match="HTTP 307"):
            await source(session, config, FakeClock()).token()
        [sent] = stub.requests
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(f"c:{SECRET}".encode()).decode()


# --------------------------------------------------------------------------- invalidation


async def test_only_the_current_token_is_invalidated_and_waiting_callers_share_one_renewal(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    tokens = source(session, client_credentials(issuer), FakeClock())
    first = await tokens.token()
    assert tokens.invalidate("some-older-token") is False
    assert await tokens.token() is first
    assert tokens.invalidate(first.access_token) is True
    assert tokens.invalidate(first.access_token) is False  # already dropped
    renewed = await asyncio.gather(*(tokens.token() for _ in range(10)))
    assert len({t.access_token for t in renewed}) == 1 and renewed[0].access_token != first.access_token
    assert issuer.issued() == 2
    assert tokens.invalidate(first.access_token) is False  # a late refusal of the old token changes nothing


async def test_refused_asks_for_a_renewal_only_on_refresh_on_statuses(
    issuer: OidcProvider, session: aiohttp.ClientSession
) -> None:
    auth = OidcAuth(source(session, client_credentials(issuer, refresh_on=[401, 403]), FakeClock()))
    sent = await auth.apply(ProviderRequest("GET", "http://127.0.0.1:9/x", {}, None, 1.0))
    assert "Authorization" in sent.sensitive or "authorization" in sent.sensitive
    assert auth.refused(sent, 404) is False and auth.source.current is not None
    assert auth.refused(sent, 403) is True
    again = await auth.apply(sent)
    assert again.headers["Authorization"] != sent.headers["Authorization"] and issuer.issued() == 2
    assert "Bearer" not in repr(again) and issuer.token_requests  # the token never shows in a repr


def test_a_client_repr_shows_no_secret() -> None:
    extra = (("client_assertion", "assert-123"),)
    client = OidcClient(
        "c",
        "oidc_user",
        "id",
        token_url="https://x/t",
        client_secret=SECRET,
        password=PASSWORD,
        extra_params=extra,
    )
    assert SECRET not in repr(client) and PASSWORD not in repr(client) and "assert-123" not in repr(client)
