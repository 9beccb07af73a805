"""The authentication block of an executor configuration: its types, their fields, and their secrets.

Types and fields are the original's (reference 4.4). Unknown fields are refused rather than ignored:
a mistyped ``client_secert`` must not silently leave a provider unauthenticated. OIDC types accept
``token_url`` as an alternative to discovery through ``issuer_url`` (the original's generic mapping
sends ``token_url`` but its OIDC client only reads ``issuer_url``). OIDC types add ``refresh_on``: the
4xx statuses (default ``[401]``) on which a provider call forces one token refresh and one retry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flowker.codes import (
    AUTHENTICATION_TYPE_REQUIRED,
    INVALID_AUTHENTICATION_FIELD,
    UNSUPPORTED_AUTHENTICATION_TYPE,
)
from flowker.domain.urls import http_url
from flowker.errors import BadRequest
from flowker.secretbox import SecretBox, is_sealed

MASK = "********"
MAX_VALUE = 4096
MAX_NAME = 100
#: Headers an api_key credential may not take the place of: framing and hop-by-hop headers, and those
#: Flowker sets itself on every provider request. (``Authorization`` stays allowed: ``ApiKey <key>``
#: is a common scheme, and the configuration has no other credential to replace.)
RESERVED_HEADERS = frozenset(
    {
        "host", "content-length", "content-type", "transfer-encoding", "connection", "keep-alive",
        "proxy-authorization", "proxy-authenticate", "proxy-connection", "te", "trailer", "upgrade",
        "expect", "accept", "user-agent", "idempotency-key", "x-request-id", "cookie",
    }
)  # fmt: skip
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_PARAM = re.compile(r"[-._~0-9A-Za-z]{1,100}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class FieldSpec:
    kind: str  # str | header | param | url | choice | strings | params | cache | statuses
    required: bool = False
    secret: bool = False
    choices: tuple[str, ...] = ()


_OIDC_COMMON = {
    "issuer_url": FieldSpec("url"),
    "token_url": FieldSpec("url"),
    "client_id": FieldSpec("str", required=True),
    "scopes": FieldSpec("strings"),
    "audience": FieldSpec("str"),
    "extra_params": FieldSpec("params"),
    "cache": FieldSpec("cache"),
    "refresh_on": FieldSpec("statuses"),
}
#: ``refresh_on`` when a configuration does not set it.
DEFAULT_REFRESH_ON = (401,)
MAX_REFRESH_ON = 10

SCHEMAS: dict[str, dict[str, FieldSpec]] = {
    "none": {},
    "api_key": {
        "key": FieldSpec("str", required=True, secret=True),
        "header_name": FieldSpec("header"),
        "prefix": FieldSpec("str"),
        "location": FieldSpec("choice", choices=("header", "query")),
        "query_param_name": FieldSpec("param"),
    },
    "bearer": {"token": FieldSpec("str", required=True, secret=True)},
    "basic": {
        "username": FieldSpec("str", required=True),
        "password": FieldSpec("str", required=True, secret=True),
    },
    "oidc_client_credentials": {
        **_OIDC_COMMON,
        "client_secret": FieldSpec("str", required=True, secret=True),
        "token_endpoint_auth_method": FieldSpec(
            "choice", choices=("client_secret_basic", "client_secret_post")
        ),
    },
    "oidc_user": {
        **_OIDC_COMMON,
        "client_secret": FieldSpec("str", secret=True),
        "username": FieldSpec("str", required=True),
        "password": FieldSpec("str", required=True, secret=True),
    },
}
_CACHE_FIELDS = {"enabled": bool, "refresh_before_expiry_seconds": int, "use_refresh_token": bool}
#: ``extra_params`` keys that look like credentials are treated as secrets too.
_SECRET_WORDS = ("secret", "password", "token", "key", "assertion", "credential")


def check_authentication(kind: str | None, config: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate an authentication block; return ``{"type", "config"}`` with only known fields.

    Messages name the field but never echo a value, since values may be credentials.
    """
    if not kind:
        raise BadRequest("authentication.type is required", code=AUTHENTICATION_TYPE_REQUIRED)
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise BadRequest(
            f"authentication.type must be one of {', '.join(SCHEMAS)}", code=UNSUPPORTED_AUTHENTICATION_TYPE
        )
    config = dict(config or {})
    for key in config:
        if key not in schema:
            raise BadRequest(
                f"authentication.config.{key} is not a field of {kind}", code=INVALID_AUTHENTICATION_FIELD
            )
    for key, spec in schema.items():
        where = f"authentication.config.{key}"
        value = config.get(key)
        if value is None or value == "":
            if spec.required:
                raise BadRequest(f"{where} is required for {kind}", code=INVALID_AUTHENTICATION_FIELD)
            config.pop(key, None)
            continue
        _CHECKS[spec.kind](where, value, spec)
    if kind.startswith("oidc_") and not (config.get("issuer_url") or config.get("token_url")):
        raise BadRequest(
            f"authentication.config.issuer_url or token_url is required for {kind}",
            code=INVALID_AUTHENTICATION_FIELD,
        )
    return {"type": kind, "config": config}


def _check_str(where: str, value: Any, spec: FieldSpec) -> None:
    if not isinstance(value, str) or len(value) > MAX_VALUE:
        raise BadRequest(
            f"{where} must be a string of at most {MAX_VALUE} characters", code=INVALID_AUTHENTICATION_FIELD
        )
    if _CONTROL.search(value):
        # A CR or LF in a header value would split the request; no credential holds one legitimately.
        raise BadRequest(f"{where} must not contain control characters", code=INVALID_AUTHENTICATION_FIELD)


def check_static_headers(headers: Mapping[str, Any], where: str = "headers") -> None:
    """Headers a configuration sends on every call: HTTP header names Flowker and HTTP do not set
    themselves, values without control characters (messages name the header, never the value)."""
    for name, value in headers.items():
        _check_header(f"{where} name", name, FieldSpec("header"))
        if not isinstance(value, str) or _CONTROL.search(value):
            raise BadRequest(
                f"{where}.{name} must be a string without control characters",
                code=INVALID_AUTHENTICATION_FIELD,
            )


def _check_header(where: str, value: Any, spec: FieldSpec) -> None:
    _check_str(where, value, spec)
    if not _TOKEN.fullmatch(value) or len(value) > MAX_NAME:
        raise BadRequest(
            f"{where} must be an HTTP header name (letters, digits and !#$%&'*+-.^_`|~, at most {MAX_NAME})",
            code=INVALID_AUTHENTICATION_FIELD,
        )
    if value.lower() in RESERVED_HEADERS:
        raise BadRequest(
            f"{where} names a header that Flowker or HTTP itself sets; choose another",
            code=INVALID_AUTHENTICATION_FIELD,
        )


def _check_param(where: str, value: Any, spec: FieldSpec) -> None:
    _check_str(where, value, spec)
    if not _PARAM.fullmatch(value):
        raise BadRequest(
            f"{where} must be a query parameter name (letters, digits and -._~, at most {MAX_NAME})",
            code=INVALID_AUTHENTICATION_FIELD,
        )


def _check_url(where: str, value: Any, spec: FieldSpec) -> None:
    _check_str(where, value, spec)
    if http_url(value) is None:
        raise BadRequest(f"{where} must be an http or https URL", code=INVALID_AUTHENTICATION_FIELD)


def _check_choice(where: str, value: Any, spec: FieldSpec) -> None:
    if value not in spec.choices:
        raise BadRequest(
            f"{where} must be one of {', '.join(spec.choices)}", code=INVALID_AUTHENTICATION_FIELD
        )


def _check_strings(where: str, value: Any, spec: FieldSpec) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{where} must be a list of strings", code=INVALID_AUTHENTICATION_FIELD)


def _check_params(where: str, value: Any, spec: FieldSpec) -> None:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise BadRequest(f"{where} must be an object of strings", code=INVALID_AUTHENTICATION_FIELD)


def _check_cache(where: str, value: Any, spec: FieldSpec) -> None:
    if not isinstance(value, dict):
        raise BadRequest(f"{where} must be an object", code=INVALID_AUTHENTICATION_FIELD)
    for key, item in value.items():
        expected = _CACHE_FIELDS.get(key)
        if expected is None:
            raise BadRequest(f"{where}.{key} is not a cache field", code=INVALID_AUTHENTICATION_FIELD)
        if type(item) is not expected or (expected is int and item < 0):
            raise BadRequest(
                f"{where}.{key} must be a {'boolean' if expected is bool else 'whole number ≥ 0'}",
                code=INVALID_AUTHENTICATION_FIELD,
            )


def _check_statuses(where: str, value: Any, spec: FieldSpec) -> None:
    if (
        not isinstance(value, list)
        or len(value) > MAX_REFRESH_ON
        or not all(type(v) is int and 400 <= v <= 499 and v != 429 for v in value)
        or len(set(value)) != len(value)
    ):
        raise BadRequest(
            f"{where} must be a list of at most {MAX_REFRESH_ON} distinct 4xx status codes "
            "(429 excluded: it is rate limiting, retried with backoff)",
            code=INVALID_AUTHENTICATION_FIELD,
        )


_CHECKS: dict[str, Callable[[str, Any, FieldSpec], None]] = {
    "str": _check_str,
    "header": _check_header,
    "param": _check_param,
    "url": _check_url,
    "choice": _check_choice,
    "strings": _check_strings,
    "params": _check_params,
    "cache": _check_cache,
    "statuses": _check_statuses,
}


def _secret_param(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def _map_secrets(authentication: Mapping[str, Any], change: Callable[[str, str], str]) -> dict[str, Any]:
    """A copy of the block with ``change(path, value)`` applied to every secret value."""
    schema = SCHEMAS.get(authentication.get("type") or "", {})
    config: dict[str, Any] = dict(authentication.get("config") or {})
    for key, value in config.items():
        spec = schema.get(key)
        if spec is not None and spec.secret and isinstance(value, str):
            config[key] = change(key, value)
        elif spec is not None and spec.kind == "params" and isinstance(value, dict):
            config[key] = {
                k: change(f"{key}.{k}", v) if _secret_param(k) and isinstance(v, str) else v
                for k, v in value.items()
            }
    return {"type": authentication.get("type"), "config": config}


def mask_authentication(authentication: Mapping[str, Any]) -> dict[str, Any]:
    """The block as a response shows it: every secret replaced by ``********``."""
    return _map_secrets(authentication, lambda _path, _value: MASK)


def seal_authentication(
    authentication: Mapping[str, Any], box: SecretBox, previous: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Encrypt every secret. A secret sent back masked keeps the ``previous`` (sealed) value.

    Clients that read a configuration and write it back unchanged therefore keep its credentials;
    a masked value with nothing to keep is refused.
    """
    kept = _flat_secrets(previous) if previous and previous.get("type") == authentication.get("type") else {}

    def seal(path: str, value: str) -> str:
        if value == MASK:
            if path not in kept:
                raise BadRequest(
                    f"authentication.config.{path} must be the secret, not its mask",
                    code=INVALID_AUTHENTICATION_FIELD,
                )
            return kept[path]
        return box.seal(value)

    return _map_secrets(authentication, seal)


def has_secrets(authentication: Mapping[str, Any]) -> bool:
    """Whether the block holds any secret (sealed or clear)."""
    return bool(_flat_secrets(authentication))


def keeps_secrets(authentication: Mapping[str, Any]) -> bool:
    """Whether a block sent by a client asks to keep a stored secret (sends one back masked)."""
    return any(value == MASK for value in _flat_secrets(authentication).values())


class UnreadableSecret(ValueError):
    """A sealed secret that this key cannot open: sealed with another key, or corrupt.

    The message names the field, never the value.
    """


def open_authentication(authentication: Mapping[str, Any], box: SecretBox) -> dict[str, Any]:
    """Decrypt every sealed secret, for the executor that calls the provider.

    Raises:
        UnreadableSecret: A secret was sealed with another key, or is corrupt.
    """

    def open_one(path: str, value: str) -> str:
        if not is_sealed(value):
            return value
        try:
            return box.open(value)
        except ValueError:
            raise UnreadableSecret(
                f"authentication.config.{path} cannot be opened: it was sealed with another secret key "
                "(FLOWKER_SECRET_KEY changed?) or is corrupt"
            ) from None

    return _map_secrets(authentication, open_one)


def _flat_secrets(authentication: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}

    def keep(path: str, value: str) -> str:
        found[path] = value
        return value

    _map_secrets(authentication, keep)
    return found
