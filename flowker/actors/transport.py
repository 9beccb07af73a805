"""One HTTP call to a provider: the request an executor configuration describes, and its response envelope.

This layer makes exactly one attempt; retries, the circuit breaker and authentication live with the caller
(:mod:`flowker.actors.provider_auth` adds credentials to a :class:`ProviderRequest`). Credentials are kept
out of every ``repr`` and of the messages of the exceptions :func:`send` lets through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

import aiohttp
import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from flowker import __version__
from flowker.domain.authentication import MASK
from flowker.domain.executor_config import ExecutorConfig

MAX_RESPONSE_BYTES = 10 * 1024 * 1024
USER_AGENT = f"flowker/{__version__}"
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
#: Header and query parameter names masked even when no authenticator marked them sensitive.
_SENSITIVE_WORDS = ("authorization", "api-key", "api_key", "apikey", "token", "secret", "password", "cookie")
_CHUNK = 64 * 1024


class UnknownEndpoint(ValueError):
    """The executor configuration has no endpoint of that name."""


class ResponseTooLarge(Exception):
    """The provider's response body is larger than :data:`MAX_RESPONSE_BYTES`."""


@dataclass(frozen=True, repr=False)
class ProviderRequest:
    """One request to a provider, ready to send.

    Attributes:
        method: The HTTP method, upper case.
        url: The absolute URL, query string included.
        headers: The headers to send.
        body: The JSON-serialisable body, or ``None`` to send none.
        timeout: Seconds the whole exchange may take.
        sensitive: Lower-case header and query parameter names whose values are credentials.
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: Any | None
    timeout: float
    sensitive: frozenset[str] = field(default=frozenset())

    def with_header(self, name: str, value: str, *, sensitive: bool = False) -> ProviderRequest:
        """A copy with header ``name`` set to ``value``, replacing any header of that name in any case."""
        headers = {k: v for k, v in self.headers.items() if k.lower() != name.lower()}
        headers[name] = value
        return replace(self, headers=headers, sensitive=self._mark(name, sensitive))

    def with_query_param(self, name: str, value: str, *, sensitive: bool = False) -> ProviderRequest:
        """A copy with query parameter ``name`` set to ``value`` (URL-encoded), replacing earlier ones."""
        parts = urlsplit(self.url)
        kept = [p for p in parts.query.split("&") if p and _param_name(p) != name]
        kept.append(f"{quote(name, safe='')}={quote(value, safe='')}")
        url = urlunsplit(parts._replace(query="&".join(kept)))
        return replace(self, url=url, sensitive=self._mark(name, sensitive))

    def masked_url(self) -> str:
        """The URL with the values of credential query parameters masked."""
        parts = urlsplit(self.url)
        pieces = [
            f"{p.partition('=')[0]}={MASK}" if self._is_sensitive(_param_name(p)) else p
            for p in parts.query.split("&")
        ]
        return urlunsplit(parts._replace(query="&".join(pieces)))

    def masked_headers(self) -> dict[str, str]:
        """The headers with the values of credential headers masked."""
        return {k: MASK if self._is_sensitive(k) else v for k, v in self.headers.items()}

    def _secrets(self) -> list[str]:
        found: set[str] = set()
        for name, value in self.headers.items():
            if self._is_sensitive(name):
                found.update((value, value.partition(" ")[2]))
        for piece in urlsplit(self.url).query.split("&"):
            if self._is_sensitive(_param_name(piece)):
                raw = piece.partition("=")[2]
                found.update((raw, unquote_plus(raw)))
        return sorted((s for s in found if s), key=len, reverse=True)

    def __repr__(self) -> str:
        # The body is workflow data (customer PII), so only its type is shown.
        return (
            f"ProviderRequest(method={self.method!r}, url={self.masked_url()!r}, "
            f"headers={self.masked_headers()!r}, body=<{type(self.body).__name__}>, timeout={self.timeout!r})"
        )

    def _mark(self, name: str, sensitive: bool) -> frozenset[str]:
        return self.sensitive | {name.lower()} if sensitive else self.sensitive

    def _is_sensitive(self, name: str) -> bool:
        lowered = name.lower()
        return lowered in self.sensitive or any(word in lowered for word in _SENSITIVE_WORDS)


@dataclass(frozen=True)
class ProviderResponse:
    """A provider's answer, whatever its status.

    Attributes:
        status: The HTTP status code.
        headers: Header names in canonical form (``X-Request-Id``); repeated headers joined with ``", "``.
        body: Parsed JSON for JSON content types, else the decoded text; ``""`` when empty.
        url: The URL called, credential query parameters masked.
    """

    status: int
    headers: dict[str, str]
    body: Any
    url: str

    def envelope(self) -> dict[str, Any]:
        """The node output that workflow mappings read: ``{"status", "headers", "body"}``."""
        return {"status": self.status, "headers": dict(self.headers), "body": self.body}


def build_request(
    config: ExecutorConfig,
    endpoint_name: str,
    body: Any,
    *,
    idempotency_key: str | None = None,
    request_id: str | None = None,
) -> ProviderRequest:
    """The unauthenticated request for one endpoint of an executor configuration.

    Args:
        config: The executor configuration.
        endpoint_name: The ``name`` of one of its endpoints.
        body: The JSON body; dropped for GET, HEAD, OPTIONS and DELETE.
        idempotency_key: Sent as ``Idempotency-Key`` so the provider can dedupe retried calls.
        request_id: Sent as ``X-Request-Id``.

    Raises:
        UnknownEndpoint: The configuration has no endpoint named ``endpoint_name``.
    """
    endpoint = next((e for e in config.endpoints if e["name"] == endpoint_name), None)
    if endpoint is None:
        raise UnknownEndpoint(f"executor configuration {config.name!r} has no endpoint {endpoint_name!r}")
    method = endpoint["method"].upper()
    sent = None if method in BODYLESS_METHODS else body
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if sent is not None:
        headers["Content-Type"] = "application/json"
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    return ProviderRequest(
        method=method,
        url=config.baseUrl + endpoint["path"],
        headers=headers,
        body=sent,
        timeout=float(endpoint["timeout"]),
    )


async def send(session: aiohttp.ClientSession, request: ProviderRequest) -> ProviderResponse:
    """Make one attempt at ``request``; any status, 3xx included, comes back as a response.

    Raises:
        ResponseTooLarge: The body is larger than :data:`MAX_RESPONSE_BYTES`.
        aiohttp.ClientError: A network failure, with credentials scrubbed from its message.
        TimeoutError: The exchange took longer than ``request.timeout``.
    """
    data = None if request.body is None else orjson.dumps(request.body)
    try:
        async with session.request(
            request.method,
            request.url,
            headers=dict(request.headers),
            data=data,
            timeout=aiohttp.ClientTimeout(total=request.timeout),
            # A redirect to another host would carry the credentials there.
            allow_redirects=False,
        ) as response:
            raw = await _read_capped(response, request)
            return ProviderResponse(
                status=response.status,
                headers=_joined_headers(response.headers),
                body=_decode(raw, response.content_type, response.charset),
                url=request.masked_url(),
            )
    except aiohttp.ClientError as exc:
        _scrub(exc, request)
        raise


async def _read_capped(response: aiohttp.ClientResponse, request: ProviderRequest) -> bytes:
    limit = MAX_RESPONSE_BYTES
    raw = bytearray()
    while chunk := await response.content.read(_CHUNK):
        raw += chunk
        if len(raw) > limit:
            raise ResponseTooLarge(f"response from {request.masked_url()} is larger than {limit} bytes")
    return bytes(raw)


def _decode(raw: bytes, content_type: str, charset: str | None) -> Any:
    if not raw:
        return ""
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # a provider mislabelling its body still gets its text through
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:  # a charset label Python does not know
        return raw.decode("utf-8", errors="replace")


def _joined_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers.items():
        key = _canonical(name)
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def _canonical(name: str) -> str:
    # Go's canonical header key, as the original's envelope shows it: x-request-id → X-Request-Id.
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _param_name(piece: str) -> str:
    return unquote_plus(piece.partition("=")[0])


def _scrub(exc: aiohttp.ClientError, request: ProviderRequest) -> None:
    """Remove ``request``'s credentials from ``exc`` in place, keeping its type for the retry policy."""
    secrets = request._secrets()
    if not secrets:
        return
    if isinstance(exc, aiohttp.ClientResponseError):
        masked = URL(request.masked_url())
        exc.request_info = exc.request_info._replace(
            url=masked, real_url=masked, headers=CIMultiDictProxy(CIMultiDict(request.masked_headers()))
        )
        exc.args = (exc.request_info, exc.history)
        return
    urls = (request.url, str(URL(request.url)))

    def clean(text: str) -> str:
        for url in urls:
            text = text.replace(url, request.masked_url())
        for secret in secrets:
            text = text.replace(secret, MASK)
        return text

    exc.args = tuple(clean(arg) if isinstance(arg, str) else arg for arg in exc.args)
