"""One bounded HTTP exchange with an OIDC issuer (its discovery document or its token endpoint).

An issuer's answer is read like a provider's: at most a bounded number of bytes, redirects not followed,
JSON parsed by orjson. What goes wrong becomes a :class:`~flowker.errors.TokenUnavailable` whose message
names the configuration and the endpoint (without its query string), never a credential:
network errors, timeouts, 5xx and 429 are :class:`~flowker.errors.TokenEndpointFailed` (transient), an
answer too large is :class:`~flowker.errors.TokenRefused`. The status of any other answer is the
caller's to judge.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import orjson

from flowker.actors.outbound import DestinationRefused
from flowker.actors.transport import USER_AGENT, describe_size
from flowker.codes import DESTINATION_REFUSED
from flowker.domain.authentication import MASK
from flowker.errors import TokenEndpointFailed, TokenRefused
from flowker.tunables import (
    MAX_ISSUER_DESCRIPTION_CHARS,
    MAX_ISSUER_ERROR_CHARS,
    TOKEN_REQUEST_TIMEOUT_SECONDS,
)

#: What RFC 6749 §5.2 allows in ``error`` (and a little more): printable ASCII without quotes and backslash.
_NOT_ERROR_CODE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_CHUNK = 16 * 1024


@dataclass(frozen=True)
class IssuerAnswer:
    """An issuer's answer: its status and its body when that is a JSON object (else ``None``)."""

    status: int
    body: dict[str, Any] | None


def shown_url(url: str) -> str:
    """``url`` as messages show it: without query string, fragment or user information."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def transient(status: int) -> bool:
    """Whether an issuer's error status is worth asking again later (as for provider calls)."""
    return status == 429 or 500 <= status <= 599


async def exchange(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    what: str,
    limit: int,
    headers: Mapping[str, str] | None = None,
    data: str | None = None,
) -> IssuerAnswer:
    """Send one request to the issuer and read its answer.

    Args:
        what: Names the configuration and the endpoint in messages (``"executor configuration 'x':
            token endpoint"``).
        limit: Largest body read, in bytes.

    Raises:
        TokenEndpointFailed: A network error, a timeout, or an answer 5xx or 429.
        TokenRefused: An answer larger than ``limit``.
    """
    sent = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
    where = f"{what} {shown_url(url)}"
    try:
        async with session.request(
            method,
            url,
            headers=sent,
            data=data,
            timeout=aiohttp.ClientTimeout(total=TOKEN_REQUEST_TIMEOUT_SECONDS),
            allow_redirects=False,
        ) as response:
            raw = bytearray()
            while chunk := await response.content.read(_CHUNK):
                raw += chunk
                if len(raw) > limit:
                    raise TokenRefused(
                        f"{where} answered more than {describe_size(limit)}", status=response.status
                    )
            status = response.status
    except TimeoutError:
        raise TokenEndpointFailed(
            f"{where} did not answer within {TOKEN_REQUEST_TIMEOUT_SECONDS:.0f} s"
        ) from None
    except DestinationRefused as exc:
        # The outbound policy's own message: the host and the kind of address, nothing secret.
        raise TokenRefused(f"{where}: {exc}", code=DESTINATION_REFUSED) from None
    except (aiohttp.ClientError, OSError) as exc:
        # The class name only: exception texts can carry URLs and request details.
        raise TokenEndpointFailed(f"{where}: network error ({type(exc).__name__})") from None
    body = _json_object(bytes(raw))
    if transient(status):
        raise TokenEndpointFailed(
            f"{where} answered HTTP {status}{describe_issuer_error(body, ())}",
            status=status,
            issuer_error=issuer_error(body),
        )
    return IssuerAnswer(status=status, body=body)


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def issuer_error(body: Mapping[str, Any] | None) -> str | None:
    """The OAuth ``error`` code of an error answer (RFC 6749 §5.2), cleaned and bounded."""
    value = body.get("error") if body else None
    if not isinstance(value, str) or not value:
        return None
    return _NOT_ERROR_CODE.sub("?", value[:MAX_ISSUER_ERROR_CHARS])


def describe_issuer_error(body: Mapping[str, Any] | None, secrets: Iterable[str]) -> str:
    """``", error invalid_client: <description>"`` for an error answer, ``""`` when it says nothing.

    The description is cut to a bounded length, stripped of anything but printable ASCII, and every
    value of ``secrets`` in it is masked: an issuer that echoes a credential must not leak it.
    """
    code = issuer_error(body)
    if code is None:
        return ""
    text = f", error {code}"
    description = body.get("error_description") if body else None
    if isinstance(description, str) and description.strip():
        for secret in sorted((s for s in secrets if s), key=len, reverse=True):
            description = description.replace(secret, MASK)
        cleaned = _NOT_PRINTABLE.sub(" ", description).strip()
        if len(cleaned) > MAX_ISSUER_DESCRIPTION_CHARS:
            cleaned = cleaned[: MAX_ISSUER_DESCRIPTION_CHARS - 1] + "…"
        text += f": {cleaned}"
    return text
