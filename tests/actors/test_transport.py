"""The outbound HTTP layer against a real provider on 127.0.0.1: requests, credentials, replies, failures."""

from __future__ import annotations

import asyncio
import random
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson
import pytest

from flowker import __version__
from flowker.actors import transport
from flowker.actors.breaker import BreakerConfig, CircuitBreaker
from flowker.actors.caller import CallRequest, CallResult, ProviderCaller
from flowker.actors.provider_auth import ApiKeyAuth, BearerAuth, NoAuth, authenticator_for
from flowker.actors.retry_policy import RetryPolicy
from flowker.actors.token_source import OidcAuth
from flowker.actors.transport import (
    ProviderRequest,
    ResponseTooDeep,
    ResponseTooLarge,
    UnknownEndpoint,
    build_request,
    send,
)
from flowker.domain.executor_config import METHODS, ExecutorConfig
from flowker.secretbox import PREFIX
from flowker.settings import Settings
from tests.helpers.raw_provider import RawProvider, nested, random_reply, raw_response
from tests.helpers.stub_provider import StubProvider

#: A breaker that never opens: these tests are about retries, not the breaker.
NEVER_OPENS = BreakerConfig(failure_threshold=10**6, sliding_window_size=10**6, minimum_number_of_calls=10**6)

#: Needs URL-encoding in a query string, and must arrive unchanged.
SECRET = "s3cr3t+/=&key value"
#: SECRET in a query string as it goes on the wire (yarl leaves "/", which is legal there, unescaped).
WIRE_SECRET = "s3cr3t%2B/%3D%26key%20value"
BODY = {"document": "12345678909", "amount": 10.5}
ENDPOINTS = [{"name": m.lower(), "path": f"/v1/{m.lower()}", "method": m, "timeout": 10} for m in METHODS]
UA = f"flowker/{__version__}"


@pytest.fixture
async def stub() -> AsyncIterator[StubProvider]:
    async with StubProvider() as provider:
        yield provider


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def make_config(base_url: str, *extra: dict[str, Any]) -> ExecutorConfig:
    return ExecutorConfig(
        id="6f1c2a8e-0000-4000-8000-000000000001",
        name="kyc-provider",
        baseUrl=base_url,
        endpoints=[*ENDPOINTS, *extra],
        authentication={"type": "none", "config": {}},
        createdAt="2025-01-01T00:00:00Z",
        updatedAt="2025-01-01T00:00:00Z",
    )


async def authed(
    base_url: str, auth: dict[str, Any], endpoint: str = "post", **extra: Any
) -> ProviderRequest:
    config = make_config(base_url, *([extra] if extra else []))
    return await authenticator_for(auth).apply(build_request(config, endpoint, BODY))


def test_build_request_for_post_sets_url_method_headers_body_and_timeout() -> None:
    request = build_request(
        make_config("https://kyc.example.com/api"),
        "post",
        BODY,
        idempotency_key="exec-1:kyc:1",
        request_id="r-42",
    )
    assert (request.method, request.url, request.body, request.timeout) == (
        "POST",
        "https://kyc.example.com/api/v1/post",
        BODY,
        10.0,
    )
    assert request.headers == {
        "Accept": "application/json",
        "User-Agent": UA,
        "Content-Type": "application/json",
        "Idempotency-Key": "exec-1:kyc:1",
        "X-Request-Id": "r-42",
    }


@pytest.mark.parametrize("method", METHODS)
async def test_each_method_reaches_the_provider(
    method: str, stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route(method, f"/v1/{method.lower()}", (200, {"ok": True}))
    request = build_request(make_config(stub.url), method.lower(), BODY)
    response = await send(session, request)

    bodyless = method in ("GET", "HEAD", "OPTIONS", "DELETE")
    assert response.envelope() == {
        "status": 200,
        "headers": response.headers,
        "body": "" if method == "HEAD" else {"ok": True},
    }
    [call] = stub.calls(f"/v1/{method.lower()}")
    assert call.method == method
    assert call.json == (None if bodyless else BODY)
    assert call.headers.get("Content-Type") == (None if bodyless else "application/json")
    assert (call.headers["Accept"], call.headers["User-Agent"]) == ("application/json", UA)


async def test_idempotency_key_and_request_id_are_forwarded(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/v1/post", (200, {"ok": True}))
    config = make_config(stub.url)
    await send(session, build_request(config, "post", BODY, idempotency_key="exec-7:kyc:2", request_id="r-9"))
    await send(session, build_request(config, "post", BODY))
    first, second = stub.calls("/v1/post")
    assert (first.headers["Idempotency-Key"], first.headers["X-Request-Id"]) == ("exec-7:kyc:2", "r-9")
    assert "Idempotency-Key" not in second.headers and "X-Request-Id" not in second.headers


@pytest.mark.parametrize(
    ("auth", "header", "value"),
    [
        ({"type": "api_key", "config": {"key": SECRET}}, "X-API-Key", SECRET),
        (
            {"type": "api_key", "config": {"key": SECRET, "header_name": "Ocp-Key", "prefix": "ApiKey "}},
            "Ocp-Key",
            f"ApiKey {SECRET}",
        ),
        ({"type": "bearer", "config": {"token": SECRET}}, "Authorization", f"Bearer {SECRET}"),
        (
            {"type": "basic", "config": {"username": "user", "password": "pa:ss"}},
            "Authorization",
            "Basic dXNlcjpwYTpzcw==",
        ),
    ],
    ids=["api_key", "api_key-custom", "bearer", "basic"],
)
async def test_header_credentials_arrive_exactly(
    auth: dict[str, Any], header: str, value: str, stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/v1/post", (200, {"ok": True}))
    request = await authed(stub.url, auth)
    await send(session, request)
    [call] = stub.calls("/v1/post")
    assert call.headers[header] == value
    assert call.query_string == ""
    assert "pa:ss" not in repr(request) and SECRET not in repr(request)
    assert "pa:ss" not in repr(authenticator_for(auth)) and SECRET not in repr(authenticator_for(auth))


async def test_none_sends_no_credentials(stub: StubProvider, session: aiohttp.ClientSession) -> None:
    stub.route("POST", "/v1/post", (200, {"ok": True}))
    request = await authed(stub.url, {"type": "none", "config": {}})
    await send(session, request)
    [call] = stub.calls("/v1/post")
    assert sorted(call.headers) == sorted(
        ["Host", "Accept", "User-Agent", "Content-Type", "Content-Length", "Accept-Encoding"]
    )


@pytest.mark.parametrize(
    ("path", "config", "query", "raw"),
    [
        (
            "/lookup?version=2",
            {},
            {"version": "2", "api_key": SECRET},
            "version=2&api_key=" + WIRE_SECRET,
        ),
        (
            "/lookup?token=old&version=2",
            {"query_param_name": "token", "prefix": "pk_"},
            {"version": "2", "token": "pk_" + SECRET},
            "version=2&token=pk_" + WIRE_SECRET,
        ),
    ],
    ids=["added", "replaced"],
)
async def test_api_key_in_the_query_keeps_the_existing_query_string(
    path: str,
    config: dict[str, str],
    query: dict[str, str],
    raw: str,
    stub: StubProvider,
    session: aiohttp.ClientSession,
) -> None:
    stub.route("GET", "/lookup", (200, {"ok": True}))
    auth = {"type": "api_key", "config": {"key": SECRET, "location": "query", **config}}
    request = await authed(stub.url, auth, "lookup", name="lookup", path=path, method="GET", timeout=5)
    response = await send(session, request)
    [call] = stub.calls("/lookup")
    assert (call.query, call.query_string) == (query, raw)
    assert "X-API-Key" not in call.headers
    name = config.get("query_param_name", "api_key")
    assert response.url == f"{stub.url}/lookup?version=2&{name}=********"
    assert repr(request) == (
        f"ProviderRequest(method='GET', url='{stub.url}/lookup?version=2&{name}=********', "
        f"headers={{'Accept': 'application/json', 'User-Agent': '{UA}'}}, body=<NoneType>, timeout=5.0)"
    )


def test_request_repr_masks_the_authorization_header() -> None:
    request = build_request(make_config("https://aml.example.com"), "post", BODY)
    request = request.with_header("Authorization", f"Bearer {SECRET}", sensitive=True)
    assert repr(request) == (
        "ProviderRequest(method='POST', url='https://aml.example.com/v1/post', headers={'Accept': "
        f"'application/json', 'User-Agent': '{UA}', 'Content-Type': 'application/json', "
        "'Authorization': '********'}, body=<dict>, timeout=10.0)"
    )


@pytest.mark.parametrize(
    ("reply", "status", "body"),
    [
        ((200, {"decision": "ALLOW", "score": 12}), 200, {"decision": "ALLOW", "score": 12}),
        ((200, "plain words"), 200, "plain words"),
        ((204, None), 204, ""),
        ((422, {"title": "bad"}, {"Content-Type": "application/problem+json"}), 422, {"title": "bad"}),
        ((200, b"[1, 2]", {"Content-Type": "application/vnd.api+json"}), 200, [1, 2]),
        ((502, b"{not json", {"Content-Type": "application/json"}), 502, "{not json"),
        ((200, "café".encode("latin-1"), {"Content-Type": "text/plain; charset=latin-1"}), 200, "café"),
        ((200, b"\xff\xfeok", {"Content-Type": "text/plain; charset=utf-8"}), 200, "\ufffd\ufffdok"),
    ],
    ids=["json", "text", "empty", "problem+json", "vendor+json", "bad-json", "latin-1", "bad-utf-8"],
)
async def test_response_body_is_json_when_labelled_and_parseable_else_text(
    reply: tuple[Any, ...], status: int, body: Any, stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/v1/post", reply)
    response = await send(session, build_request(make_config(stub.url), "post", BODY))
    assert (response.status, response.body) == (status, body)
    assert response.envelope()["body"] == body


async def test_repeated_headers_are_joined_under_canonical_names(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    headers = [("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("x-trace-id", "t-1")]
    stub.route("GET", "/v1/get", (200, {"ok": True}, headers))
    response = await send(session, build_request(make_config(stub.url), "get", None))
    assert response.headers["Set-Cookie"] == "a=1, b=2"
    assert response.headers["X-Trace-Id"] == "t-1"
    assert response.headers["Content-Type"] == "application/json"
    assert response.envelope() == {"status": 200, "headers": response.headers, "body": {"ok": True}}


async def test_redirects_are_returned_not_followed(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("GET", "/v1/get", (302, None, {"Location": f"{stub.url}/elsewhere"}))
    stub.route("GET", "/elsewhere", (200, {"leaked": True}))
    request = await authed(stub.url, {"type": "bearer", "config": {"token": SECRET}}, "get")
    response = await send(session, request)
    assert (response.status, response.headers["Location"], response.body) == (
        302,
        f"{stub.url}/elsewhere",
        "",
    )
    assert stub.calls("/elsewhere") == []


async def test_a_body_over_the_limit_raises(stub: StubProvider, session: aiohttp.ClientSession) -> None:
    stub.route("GET", "/v1/get", (200, "x" * 100))
    stub.route("DELETE", "/v1/delete", (200, "x" * 101))
    config = make_config(stub.url)
    assert (await send(session, build_request(config, "get", None, max_response_bytes=100))).body == "x" * 100
    with pytest.raises(ResponseTooLarge, match=r"provider answer from .*/v1/delete is larger than 100 bytes"):
        await send(session, build_request(config, "delete", None, max_response_bytes=100))
    # The default is FLOWKER_MAX_RESPONSE_BYTES's: 10 MiB.
    assert build_request(config, "get", None).max_response_bytes == 10 * 1024 * 1024


async def test_the_callers_answer_limit_is_the_configured_one(
    raw: RawProvider, session: aiohttp.ClientSession
) -> None:
    raw.reply = raw_response(200, [JSON], b'"' + b"x" * 2000 + b'"')
    caller = ProviderCaller(
        make_config(raw.url),
        NoAuth(),
        session,
        RetryPolicy(attempts=1),
        CircuitBreaker(NEVER_OPENS),
        max_response_bytes=1024,
    )
    result = await caller.call(call_for())
    assert (result.ok, result.code) == (False, "FLK-0254")
    assert "provider answer larger than 1024 bytes" in (result.error or "")
    assert Settings.from_env({"FLOWKER_MAX_RESPONSE_BYTES": "1024"}).max_response_bytes == 1024


async def test_a_slow_provider_times_out_within_the_timeout(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/v1/post", (200, {"ok": True}), delay=2.0)
    request = replace(build_request(make_config(stub.url), "post", BODY), timeout=0.2)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await send(session, request)
    assert 0.15 < time.monotonic() - started < 1.0
    assert len(stub.calls("/v1/post")) == 1


async def test_a_closed_port_refuses_the_connection(session: aiohttp.ClientSession) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = build_request(make_config(f"http://127.0.0.1:{port}"), "post", BODY)
    with pytest.raises(aiohttp.ClientConnectorError) as caught:
        await send(session, request)
    assert isinstance(caught.value, OSError)
    assert f"127.0.0.1:{port}" in str(caught.value)


async def test_errors_from_a_broken_provider_carry_no_credentials(session: aiohttp.ClientSession) -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"NOT-HTTP garbage\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(garbage, "127.0.0.1", 0)
    async with server:
        base = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        request = await authed(base, {"type": "api_key", "config": {"key": SECRET, "location": "query"}})
        request = await BearerAuth(token="tok-" + SECRET).apply(request)
        with pytest.raises(aiohttp.ClientResponseError) as caught:
            await send(session, request)
    error = caught.value
    for text in (str(error), repr(error)):
        assert SECRET not in text and quote(SECRET, safe="") not in text and WIRE_SECRET not in text
    assert str(error.request_info.url) == f"{base}/v1/post?api_key=********"
    assert error.request_info.headers["Authorization"] == "********"


@pytest.mark.parametrize("kind", ["oidc_client_credentials", "oidc_user"])
async def test_oidc_types_need_a_session_and_get_a_token_source(kind: str) -> None:
    config = {"issuer_url": "https://idp.example.com", "client_id": "flowker", "client_secret": "cs-1"}
    if kind == "oidc_user":
        config.update(username="ana", password="pw-1")
    auth = {"type": kind, "config": config}
    with pytest.raises(ValueError, match="needs an HTTP session"):
        authenticator_for(auth)
    async with aiohttp.ClientSession() as session:
        built = authenticator_for(auth, session=session, config_name="idp")
    assert isinstance(built, OidcAuth) and built.source.client.kind == kind
    assert built.source.client.scopes == (("openid",) if kind == "oidc_user" else ())
    assert "cs-1" not in repr(built) and "pw-1" not in repr(built)


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"type": "saml", "config": {}}, "unknown authentication type 'saml'"),
        ({"type": "bearer", "config": {}}, "authentication.config.token is required for bearer"),
        ({"type": "basic", "config": {"password": SECRET}}, "authentication.config.username is required"),
        ({"type": "api_key", "config": {"key": PREFIX + "c2VhbGVk"}}, "config.key is still sealed"),
    ],
    ids=["unknown", "missing-token", "missing-username", "sealed"],
)
def test_unusable_blocks_are_refused_without_echoing_values(auth: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        authenticator_for(auth)
    assert SECRET not in str(caught.value) and "c2VhbGVk" not in str(caught.value)


def test_an_unknown_endpoint_is_named() -> None:
    with pytest.raises(UnknownEndpoint, match="executor configuration 'kyc-provider' has no endpoint 'nope'"):
        build_request(make_config("https://kyc.example.com"), "nope", BODY)
    assert issubclass(UnknownEndpoint, ValueError)


async def test_query_mode_leaves_headers_alone() -> None:
    request = build_request(make_config("https://kyc.example.com"), "get", None)
    keyed = await ApiKeyAuth(key=SECRET, location="query").apply(request)
    assert keyed.headers == request.headers
    assert keyed.url == "https://kyc.example.com/v1/get?api_key=" + quote(SECRET, safe="")


async def test_stub_scripts_fail_twice_then_succeed_and_records_calls(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    stub.route("POST", "/v1/post", [(503, {"error": "busy"}), (502, "bad gateway"), (200, {"ok": True})])
    request = build_request(make_config(stub.url), "post", BODY)
    statuses = [(await send(session, request)).status for _ in range(4)]
    assert statuses == [503, 502, 200, 200]
    assert [c.json for c in stub.calls("/v1/post", "POST")] == [BODY] * 4
    assert (await send(session, build_request(make_config(stub.url), "put", BODY))).envelope()["body"] == {
        "error": "no route for PUT /v1/put"
    }
    assert [c.path for c in stub.requests] == ["/v1/post"] * 4 + ["/v1/put"]
    stub.reset()
    assert stub.requests == []
    assert (await send(session, request)).status == 404


async def test_stub_callable_routes_see_the_json_and_the_request(
    stub: StubProvider, session: aiohttp.ClientSession
) -> None:
    async def echo(payload: Any, request: aiohttp.web.Request) -> tuple[int, Any, dict[str, str]]:
        return 201, {"echo": payload, "path": request.path}, {"X-Handled": "yes"}

    stub.route("POST", "/v1/post", echo)
    response = await send(session, build_request(make_config(stub.url), "post", BODY))
    assert (response.status, response.body, response.headers["X-Handled"]) == (
        201,
        {"echo": BODY, "path": "/v1/post"},
        "yes",
    )


async def test_stub_serves_thousands_of_concurrent_requests(stub: StubProvider) -> None:
    """All 2000 requests are held open at the stub at once: none is answered before the last arrived."""
    count = 2000
    all_in = asyncio.Event()
    arrived = 0

    async def barrier(_payload: Any, _request: aiohttp.web.Request) -> tuple[int, Any]:
        nonlocal arrived
        arrived += 1
        if arrived == count:
            all_in.set()
        await all_in.wait()
        return 200, {"ok": True}

    stub.route("POST", "/v1/post", barrier)
    request = build_request(make_config(stub.url), "post", BODY)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as client:
        responses = await asyncio.wait_for(asyncio.gather(*(send(client, request) for _ in range(count))), 60)
    assert [r.status for r in responses] == [200] * count
    assert len(stub.calls("/v1/post")) == count


# --- Whatever a provider sends, the answer can be stored ---------------------------------------------------


@pytest.fixture
async def raw() -> AsyncIterator[RawProvider]:
    async with RawProvider() as provider:
        yield provider


def caller_for(base_url: str, session: aiohttp.ClientSession, attempts: int = 2) -> ProviderCaller:
    return ProviderCaller(
        make_config(base_url),
        NoAuth(),
        session,
        RetryPolicy(attempts=attempts, backoff_seconds=0.0),
        # Failures must not open the breaker: every case should reach the provider.
        CircuitBreaker(NEVER_OPENS),
    )


def call_for(endpoint: str = "post") -> CallRequest:
    return CallRequest(
        executor_config_id="6f1c2a8e-0000-4000-8000-000000000001",
        endpoint_name=endpoint,
        body=BODY,
        idempotency_key="exec-1:node-1",
        request_id="exec-1",
    )


JSON = (b"Content-Type", b"application/json")


async def test_header_values_with_bytes_that_are_not_utf8_are_decoded_with_replacement(
    raw: RawProvider, session: aiohttp.ClientSession
) -> None:
    raw.reply = raw_response(
        200,
        [JSON, (b"X-Latin", b"caf\xe9"), (b"X-Utf8", "café".encode()), (b"X-Tab", b"a\tb\x7fc")],
        b"{}",
    )
    response = await send(session, build_request(make_config(raw.url), "get", None))
    assert response.headers["X-Latin"] == "caf\ufffd"
    assert response.headers["X-Utf8"] == "café"
    assert response.headers["X-Tab"] == "a\tb c"
    orjson.dumps(response.envelope(), option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"NaN", "NaN"),
        (b"[1e400]", "[1e400]"),
        (b'{"s": "\\ud800"}', '{"s": "\\ud800"}'),
        (b"123456789012345678901234567890", 1.2345678901234568e29),
        (b"-9223372036854775809", -9.223372036854776e18),
        (b"18446744073709551615", 18446744073709551615),
    ],
    ids=["nan", "infinite", "lone-surrogate-escape", "huge-int", "below-int64", "max-uint64"],
)
async def test_json_that_orjson_refuses_comes_through_as_text_and_numbers_as_it_parses_them(
    body: bytes, expected: Any, raw: RawProvider, session: aiohttp.ClientSession
) -> None:
    raw.reply = raw_response(200, [JSON], body)
    response = await send(session, build_request(make_config(raw.url), "get", None))
    assert response.body == expected
    orjson.dumps(response.envelope(), option=orjson.OPT_SORT_KEYS)


@pytest.mark.parametrize("charset", ["utf-7", "unicode_escape", "hex", "no-such-charset", "idna"])
async def test_text_in_any_declared_charset_is_valid_utf8(
    charset: str, raw: RawProvider, session: aiohttp.ClientSession
) -> None:
    body = b"+2AA- \\ud800 \xff ok"
    raw.reply = raw_response(200, [(b"Content-Type", f"text/plain; charset={charset}".encode())], body)
    response = await send(session, build_request(make_config(raw.url), "get", None))
    assert isinstance(response.body, str) and "ok" in response.body
    orjson.dumps(response.envelope(), option=orjson.OPT_SORT_KEYS)


async def test_json_nested_up_to_the_bound_is_kept_and_deeper_is_refused(
    raw: RawProvider, session: aiohttp.ClientSession
) -> None:
    request = build_request(make_config(raw.url), "get", None)
    raw.reply = raw_response(200, [JSON], nested(transport.MAX_ANSWER_DEPTH))
    kept = await send(session, request)
    orjson.dumps(kept.envelope(), option=orjson.OPT_SORT_KEYS)
    for depth in (transport.MAX_ANSWER_DEPTH + 1, 2000):
        raw.reply = raw_response(200, [JSON], nested(depth))
        with pytest.raises(ResponseTooDeep, match="nests deeper than 64 levels"):
            await send(session, request)


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (nested(65), "FLK-0254", "provider answer nests deeper than 64 levels"),
        (b"x" * (10 * 1024 * 1024 + 1), "FLK-0254", "provider answer larger than 10 MiB"),
    ],
    ids=["too-deep", "too-large"],
)
async def test_an_answer_out_of_bounds_fails_the_call_at_once_even_from_a_failing_provider(
    body: bytes, code: str, message: str, raw: RawProvider, session: aiohttp.ClientSession
) -> None:
    # 503 is retried, but the request has reached the provider: a second one could pay twice.
    raw.reply = raw_response(503, [JSON], body)
    result = await caller_for(raw.url, session, attempts=5).call(call_for())
    assert (result.ok, result.code, result.attempts, result.may_have_reached) == (False, code, 1, True)
    assert result.error is not None and message in result.error and "not retried" in result.error
    assert raw.requests == 1


async def test_an_endpoint_removed_from_the_configuration_is_a_refusal_with_nothing_sent(
    raw: RawProvider, session: aiohttp.ClientSession
) -> None:
    result = await caller_for(raw.url, session).call(call_for("settle"))
    assert (result.ok, result.code, result.attempts, result.may_have_reached) == (False, "FLK-0153", 0, False)
    assert result.error == (
        "executor configuration 'kyc-provider' has no endpoint 'settle' "
        "(removed since the workflow was activated?)"
    )
    assert raw.requests == 0


async def test_a_failing_provider_is_a_failure_with_its_code(
    raw: RawProvider, session: aiohttp.ClientSession
) -> None:
    raw.reply = raw_response(503, [JSON], b'{"error": "busy"}')
    result = await caller_for(raw.url, session, attempts=2).call(call_for())
    assert (result.ok, result.code, result.attempts, result.may_have_reached) == (False, "FLK-0256", 2, True)
    assert result.response == {
        "status": 503,
        "headers": {"Content-Type": "application/json", "Content-Length": "17", "Connection": "close"},
        "body": {"error": "busy"},
    }


async def test_a_bug_in_the_caller_is_an_internal_error_not_an_exception(
    raw: RawProvider, session: aiohttp.ClientSession
) -> None:
    class Broken:
        async def apply(self, request: ProviderRequest) -> ProviderRequest:
            raise KeyError("a bug")

    caller = caller_for(raw.url, session)
    caller._auth = Broken()
    result = await caller.call(call_for())
    assert (result.ok, result.code, result.may_have_reached) == (False, "FLK-9999", False)
    assert result.error == "internal error in the executor (KeyError); nothing was sent"
    assert raw.requests == 0


#: Change to reproduce a failure; the message of a failing case names its seed and number.
PROPERTY_SEED = 20261201
PROPERTY_CASES = 300


async def test_whatever_a_provider_sends_the_call_returns_an_answer_orjson_can_store(
    raw: RawProvider,
) -> None:
    rng = random.Random(PROPERTY_SEED)
    answered = 0
    codes: set[str | None] = set()
    async with aiohttp.ClientSession() as session:
        caller = caller_for(raw.url, session)
        for case in range(PROPERTY_CASES):
            raw.reply, described = random_reply(rng)
            where = f"seed {PROPERTY_SEED}, case {case}: {described}"
            try:
                result = await caller.call(call_for())
            except Exception as exc:
                pytest.fail(f"{where}: the call raised {exc!r}")
            assert isinstance(result, CallResult), where
            assert result.ok or result.code, where
            codes.add(result.code)
            if result.response is not None:
                answered += 1
                try:
                    orjson.dumps(result.response, option=orjson.OPT_SORT_KEYS)
                    # What a step records of the call: the answer and the failure's message and code.
                    orjson.dumps({"response": result.response, "error": result.error, "code": result.code})
                except (TypeError, orjson.JSONEncodeError) as exc:
                    pytest.fail(f"{where}: the answer cannot be stored: {exc!r}")
    # Not vacuous: most answers arrive, and some are too deep or too large.
    assert answered > PROPERTY_CASES // 2, answered
    assert {"FLK-0254", "FLK-0256", None} <= codes, codes
