"""One HTTP call to a provider: the request an executor configuration describes, and its response envelope.

This layer makes exactly one attempt; retries, the circuit breaker and authentication live with the caller
(:mod:`flowker.actors.provider_auth` adds credentials to a :class:`ProviderRequest`). Credentials are kept
out of every ``repr`` and of the messages of the exceptions :func:`send` lets through.

Whatever bytes a provider sends, the envelope that leaves here can be stored: ``orjson.dumps`` accepts it
(with ``OPT_SORT_KEYS`` too, as audit hashing uses). Header names and values are valid UTF-8 without
control characters, text bodies valid UTF-8, JSON bodies at most :data:`MAX_ANSWER_DEPTH` levels deep,
bodies at most :data:`MAX_RESPONSE_BYTES`; an answer beyond a bound raises :class:`AnswerOutOfBounds`.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, unquote_plus, urlsplit, urlunsplit

import aiohttp
import orjson
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from flowker import __version__
from flowker.actors.delivery import Delivery
from flowker.domain.authentication import MASK
from flowker.domain.executor_config import ExecutorConfig
from flowker.domain.sensitive import is_sensitive_name
from flowker.dsl.run_state import Route
from flowker.tunables import MAX_ANSWER_DEPTH, MAX_RESPONSE_BYTES

USER_AGENT = f"flowker/{__version__}"
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_CHUNK = 64 * 1024


class UnknownEndpoint(ValueError):
    """The executor configuration has no endpoint of that name."""


class UnfilledPath(ValueError):
    """A ``{placeholder}`` of a catalog endpoint's path has no value in the node's data or the body."""


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class AnswerOutOfBounds(Exception):
    """The provider answered something Flowker will not store. The request reached the provider."""


class ResponseTooLarge(AnswerOutOfBounds):
    """The provider's response body is larger than the request's ``max_response_bytes``."""

    def __init__(self, message: str = "", limit: int = MAX_RESPONSE_BYTES) -> None:
        super().__init__(message)
        self.limit = limit


class ResponseTooDeep(AnswerOutOfBounds):
    """The provider's JSON answer nests deeper than :data:`MAX_ANSWER_DEPTH` levels."""


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
        max_response_bytes: A longer answer body raises :class:`ResponseTooLarge`
            (``FLOWKER_MAX_RESPONSE_BYTES``).
    """

    method: str
    url: str
    headers: Mapping[str, str]
    body: Any | None
    timeout: float
    sensitive: frozenset[str] = field(default=frozenset())
    max_response_bytes: int = MAX_RESPONSE_BYTES

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
        # Names an authenticator marked, and those masked even when none did.
        return name.lower() in self.sensitive or is_sensitive_name(name)


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
    max_response_bytes: int = MAX_RESPONSE_BYTES,
    route: Route | None = None,
) -> ProviderRequest:
    """The unauthenticated request for one endpoint of an executor configuration.

    Args:
        config: The executor configuration.
        endpoint_name: The ``name`` of one of its endpoints.
        body: The JSON body; dropped for GET, HEAD, OPTIONS and DELETE.
        idempotency_key: Sent as ``Idempotency-Key`` so the provider can dedupe retried calls.
        request_id: Sent as ``X-Request-Id``.
        max_response_bytes: The longest answer body kept (``FLOWKER_MAX_RESPONSE_BYTES``).
        route: A catalog-form node's method, path and values (a provider configuration's call target,
            :mod:`flowker.catalog.call_target`): a ``generic`` endpoint takes the node's method and path
            under its base URL, and every endpoint's ``{placeholders}`` are filled from the node's data,
            then the body, each value percent-encoded as one segment.

    Raises:
        UnknownEndpoint: The configuration has no endpoint named ``endpoint_name``.
        UnfilledPath: A placeholder has no value.
    """
    endpoint = next((e for e in config.endpoints if e["name"] == endpoint_name), None)
    if endpoint is None:
        raise UnknownEndpoint(f"executor configuration {config.name!r} has no endpoint {endpoint_name!r}")
    method, path = endpoint["method"].upper(), endpoint["path"]
    if route is not None:
        if endpoint.get("builder") == "generic":
            method = route.method or method
            path += route.path or endpoint.get("defaultPath", "")
        path = _filled(path, dict(route.params), body)
    body_methods = endpoint.get("bodyMethods")
    dropped = method in BODYLESS_METHODS or (body_methods is not None and method not in body_methods)
    sent = None if dropped else body
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    if sent is not None:
        headers["Content-Type"] = "application/json"
    # A provider configuration's own headers (names checked when saved); their values are secrets.
    static = config.staticHeaders or {}
    headers.update(static)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    if request_id is not None:
        headers["X-Request-Id"] = request_id
    return ProviderRequest(
        method=method,
        url=config.baseUrl + path,
        headers=headers,
        body=sent,
        timeout=float(endpoint["timeout"]),
        max_response_bytes=max_response_bytes,
        sensitive=frozenset(name.lower() for name in static),
    )


def _filled(path: str, params: dict[str, str], body: Any) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        found = params.get(name)
        if found is None and isinstance(body, dict) and isinstance(body.get(name), str | int):
            found = str(body[name])
        if found is None or found in ("", ".", ".."):
            raise UnfilledPath(f"the path parameter {{{name}}} has no value in the node's data or the body")
        return quote(found, safe="")

    return _PLACEHOLDER.sub(value, path)


async def send(
    session: aiohttp.ClientSession, request: ProviderRequest, delivery: Delivery | None = None
) -> ProviderResponse:
    """Make one attempt at ``request``; any status, 3xx included, comes back as a response.

    ``delivery``, when given, records how far the attempt got (see :mod:`flowker.actors.delivery`).

    Raises:
        ResponseTooLarge: The body is larger than ``request.max_response_bytes``.
        ResponseTooDeep: The JSON body nests deeper than :data:`MAX_ANSWER_DEPTH`.
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
            trace_request_ctx=delivery,
        ) as response:
            raw = await _read_capped(response, request)
            headers = _joined_headers(response.headers)
            return ProviderResponse(
                status=response.status,
                headers=headers,
                body=_decode(raw, request, *_content_type(headers)),
                url=request.masked_url(),
            )
    except aiohttp.ClientError as exc:
        _scrub(exc, request)
        raise


async def _read_capped(response: aiohttp.ClientResponse, request: ProviderRequest) -> bytes:
    limit = request.max_response_bytes
    raw = bytearray()
    while chunk := await response.content.read(_CHUNK):
        raw += chunk
        if len(raw) > limit:
            raise ResponseTooLarge(
                f"provider answer from {request.masked_url()} is larger than {describe_size(limit)}", limit
            )
    return bytes(raw)


def describe_size(size: int) -> str:
    """``10 MiB`` for whole mebibytes, else ``123 bytes``."""
    mib = 1024 * 1024
    return f"{size // mib} MiB" if size >= mib and size % mib == 0 else f"{size} bytes"


def _content_type(headers: Mapping[str, str]) -> tuple[str, str | None]:
    """The media type, lower case, and the charset parameter, from the already cleaned headers."""
    media, _, params = headers.get("Content-Type", "").partition(";")
    charset = None
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media.strip().lower(), charset


def _decode(raw: bytes, request: ProviderRequest, content_type: str, charset: str | None) -> Any:
    if not raw:
        return ""
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            if "depth limit" in str(exc):  # orjson stops at 1024 levels, far beyond our bound
                raise _too_deep(request) from None
            # A provider mislabelling its body, or JSON orjson refuses (NaN, 1e400, a lone "\ud800"):
            # its text still gets through.
        else:
            if _depth_exceeds(parsed, MAX_ANSWER_DEPTH):
                raise _too_deep(request)
            return parsed
    return _text(raw, charset)


def _too_deep(request: ProviderRequest) -> ResponseTooDeep:
    return ResponseTooDeep(
        f"provider answer from {request.masked_url()} nests deeper than {MAX_ANSWER_DEPTH} levels"
    )


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` nests containers deeper than ``limit`` (a scalar is depth 0, ``[]`` depth 1)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _text(raw: bytes, charset: str | None) -> str:
    try:
        text = raw.decode(charset or "utf-8", errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        # An unknown label, one that is no text encoding ("hex"), garbage, or a codec that refuses
        # errors="replace" (idna).
        text = raw.decode("utf-8", errors="replace")
    # Some codecs (utf-7, unicode_escape) can still yield lone surrogates, which orjson refuses.
    return clean_text(text, keep_controls=True)


#: C0 controls but tab, DEL and C1 controls: no header value carries them legitimately.
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str, *, keep_controls: bool = False) -> str:
    """``text`` as valid UTF-8: bytes aiohttp kept as surrogate escapes are decoded again as UTF-8 with
    replacement, any other lone surrogate becomes U+FFFD, and (unless ``keep_controls``) controls a space."""
    if _SURROGATE.search(text):
        # aiohttp decodes header bytes with errors="surrogateescape": get the bytes back, decode them again.
        with contextlib.suppress(UnicodeEncodeError):
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        text = _SURROGATE.sub("\ufffd", text)
    return text if keep_controls else _CONTROL.sub(" ", text)


def _joined_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers.items():
        key = _canonical(clean_text(name))
        value = clean_text(value)
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
