"""Executor configurations: the external services a workflow calls (base URL, endpoints, authentication).

Unlike the original, where this entity is dormant and cannot be created over HTTP, an executor
configuration is created over the API, usable at once (``active``), and can be taken out of service
(``disabled``). Its credentials are sealed before they are stored and masked in every response.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field

from flowker.codes import (
    BASE_URL_REQUIRED,
    BASE_URL_TOO_LONG,
    DUPLICATE_ENDPOINT_NAME,
    ENDPOINT_FIELD_TOO_LONG,
    ENDPOINT_METHOD_REQUIRED,
    ENDPOINT_NAME_REQUIRED,
    EXECUTOR_CONFIG_DESCRIPTION_TOO_LONG,
    EXECUTOR_CONFIG_NAME_REQUIRED,
    EXECUTOR_CONFIG_NAME_TOO_LONG,
    INVALID_BASE_URL,
    INVALID_ENDPOINT_METHOD,
    INVALID_ENDPOINT_PATH,
    INVALID_ENDPOINT_TIMEOUT,
    NO_ENDPOINTS,
    TOO_MANY_ENDPOINTS,
)
from flowker.domain.authentication import mask_authentication
from flowker.domain.breaker_state import check_breaker_override
from flowker.domain.urls import http_url
from flowker.errors import BadRequest

MAX_NAME = 100
MAX_DESCRIPTION = 500
MAX_BASE_URL = 500
MAX_ENDPOINTS = 50
MAX_ENDPOINT_NAME = 50
MAX_ENDPOINT_PATH = 200
DEFAULT_TIMEOUT_SECONDS = 30
MAX_TIMEOUT_SECONDS = 300
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


# The OpenAPI document shows this docstring.
class ExecutorStatus(StrEnum):
    """Created `active`; `disabled` takes it out of service."""

    ACTIVE = "active"
    DISABLED = "disabled"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore")


class EndpointInput(_Model):
    name: str | None = None
    path: str | None = None
    method: str | None = None
    timeout: int | None = None


class AuthenticationInput(_Model):
    type: str | None = None
    config: dict[str, Any] | None = None


class ExecutorConfigInput(_Model):
    """The body of create (all of it) and PATCH (any subset of it)."""

    name: str | None = None
    description: str | None = None
    baseUrl: str | None = None
    endpoints: list[EndpointInput] | None = None
    authentication: AuthenticationInput | None = None
    metadata: dict[str, Any] | None = None
    circuitBreaker: Any = None


class ExecutorConfig(BaseModel):
    """A stored executor configuration; ``authentication.config`` holds sealed secrets."""

    id: str
    name: str
    description: str | None = None
    baseUrl: str
    endpoints: list[dict[str, Any]]
    authentication: dict[str, Any]
    status: ExecutorStatus = ExecutorStatus.ACTIVE
    metadata: dict[str, Any] | None = None
    #: Thresholds of this configuration's circuit breaker that replace the global settings.
    circuitBreaker: dict[str, Any] | None = None
    createdAt: str
    updatedAt: str
    lastTestedAt: str | None = None
    revision: int = Field(default=0, exclude=True)
    #: Headers sent on every call (a provider configuration's ``headers``, values sealed until the
    #: executor actor opens them); never part of an executor configuration's documents or answers.
    staticHeaders: dict[str, str] | None = Field(default=None, exclude=True)

    def to_output(self) -> dict[str, Any]:
        """The API's ``ExecutorConfigurationOutput``, every secret masked."""
        out = self.model_dump(mode="json", exclude_none=True)
        out["authentication"] = mask_authentication(self.authentication)
        return out

    def endpoint_names(self) -> frozenset[str]:
        """The names a workflow node may use as ``endpointName``."""
        return frozenset(e["name"] for e in self.endpoints)


def normalize(body: ExecutorConfigInput) -> dict[str, Any]:
    """Check a complete configuration and return its canonical fields, all but ``authentication``
    (which :func:`~flowker.domain.authentication.check_authentication` checks).

    Raises :class:`BadRequest` with the field's own code on the first failure.
    """
    name = (body.name or "").strip()
    if not name:
        raise BadRequest("name is required", code=EXECUTOR_CONFIG_NAME_REQUIRED)
    if len(name) > MAX_NAME:
        raise BadRequest(f"name is longer than {MAX_NAME} characters", code=EXECUTOR_CONFIG_NAME_TOO_LONG)
    if body.description is not None and len(body.description) > MAX_DESCRIPTION:
        raise BadRequest(
            f"description is longer than {MAX_DESCRIPTION} characters",
            code=EXECUTOR_CONFIG_DESCRIPTION_TOO_LONG,
        )
    return {
        "name": name,
        "description": body.description,
        "baseUrl": _base_url(body.baseUrl),
        "endpoints": _endpoints(body.endpoints),
        "metadata": body.metadata,
        "circuitBreaker": check_breaker_override(body.circuitBreaker),
    }


def _base_url(raw: str | None) -> str:
    url = (raw or "").strip()
    if not url:
        raise BadRequest("baseUrl is required", code=BASE_URL_REQUIRED)
    if len(url) > MAX_BASE_URL:
        raise BadRequest(f"baseUrl is longer than {MAX_BASE_URL} characters", code=BASE_URL_TOO_LONG)
    parts = http_url(url)
    if parts is None:
        raise BadRequest("baseUrl must be an http or https URL with a host", code=INVALID_BASE_URL)
    if parts.username or parts.password:
        # Credentials in a URL end up in logs and responses; they belong in authentication.
        raise BadRequest("baseUrl must not carry credentials; use authentication", code=INVALID_BASE_URL)
    if parts.query or parts.fragment:
        raise BadRequest("baseUrl must not have a query or fragment", code=INVALID_BASE_URL)
    return url.rstrip("/")


def _endpoints(raw: list[EndpointInput] | None) -> list[dict[str, Any]]:
    if not raw:
        raise BadRequest("endpoints: at least one endpoint is required", code=NO_ENDPOINTS)
    if len(raw) > MAX_ENDPOINTS:
        raise BadRequest(f"endpoints: at most {MAX_ENDPOINTS} endpoints", code=TOO_MANY_ENDPOINTS)
    endpoints: list[dict[str, Any]] = []
    names: set[str] = set()
    for index, endpoint in enumerate(raw):
        where = f"endpoints[{index}]"
        name = (endpoint.name or "").strip()
        if not name:
            raise BadRequest(f"{where}.name is required", code=ENDPOINT_NAME_REQUIRED)
        if len(name) > MAX_ENDPOINT_NAME:
            raise BadRequest(
                f"{where}.name is longer than {MAX_ENDPOINT_NAME} characters", code=ENDPOINT_FIELD_TOO_LONG
            )
        if name in names:
            raise BadRequest(
                f"{where}.name {name!r} is used by another endpoint", code=DUPLICATE_ENDPOINT_NAME
            )
        names.add(name)
        path = (endpoint.path or "").strip()
        if not path:
            raise BadRequest(f"{where}.path is required", code=INVALID_ENDPOINT_PATH)
        if len(path) > MAX_ENDPOINT_PATH:
            raise BadRequest(
                f"{where}.path is longer than {MAX_ENDPOINT_PATH} characters", code=ENDPOINT_FIELD_TOO_LONG
            )
        if "://" in path or path.startswith("//"):
            # A path that is a URL would send the configuration's credentials to another host.
            raise BadRequest(f"{where}.path must be a path relative to baseUrl", code=INVALID_ENDPOINT_PATH)
        if reason := _path_problem(path):
            raise BadRequest(f"{where}.path {reason}", code=INVALID_ENDPOINT_PATH)
        method = (endpoint.method or "").strip().upper()
        if not method:
            raise BadRequest(f"{where}.method is required", code=ENDPOINT_METHOD_REQUIRED)
        if method not in METHODS:
            raise BadRequest(
                f"{where}.method must be one of {', '.join(METHODS)}", code=INVALID_ENDPOINT_METHOD
            )
        timeout = DEFAULT_TIMEOUT_SECONDS if endpoint.timeout is None else endpoint.timeout
        if not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
            raise BadRequest(
                f"{where}.timeout must be 1..{MAX_TIMEOUT_SECONDS} seconds", code=INVALID_ENDPOINT_TIMEOUT
            )
        endpoints.append({"name": name, "path": "/" + path.lstrip("/"), "method": method, "timeout": timeout})
    return endpoints


_UNSAFE_PATH_CHARS = re.compile(r"[\x00-\x20\x7f\\#]")


def _path_problem(path: str) -> str | None:
    """Why ``path`` could lead a request away from the base URL's path, or ``None`` when it cannot.

    URL libraries resolve dot segments (yarl turns ``/api/../admin`` into ``/admin``), servers decode
    ``%2e`` and ``%2f``: a segment that is ``.`` or ``..``, or holds a slash, once percent-decoded, is
    refused, as are spaces, controls, backslashes and fragments.
    """
    if _UNSAFE_PATH_CHARS.search(path):
        return "must not contain spaces, control characters, backslashes or '#'"
    for segment in path.split("?", 1)[0].split("/"):
        decoded = unquote(segment)
        if decoded in (".", "..") or "/" in decoded or "\\" in decoded:
            return "must not contain dot segments ('.', '..') or encoded slashes: it must stay under baseUrl"
    return None


def origin(url: str) -> tuple[str, str, int | None]:
    """An http(s) URL's origin, ports made explicit: ``("https", "api.example.com", 443)``."""
    parts = http_url(url)
    if parts is None:
        return ("", url, None)
    port = parts.port or {"http": 80, "https": 443}[parts.scheme]
    return (parts.scheme, (parts.hostname or "").lower(), port)


def merge_patch(current: ExecutorConfig, patch: ExecutorConfigInput) -> ExecutorConfigInput:
    """The input that results from applying the fields ``patch`` sets to ``current``.

    ``authentication`` is only there when the patch sets it: the stored block is sealed and is kept as is.
    """
    base = ExecutorConfigInput.model_validate(
        {
            "name": current.name,
            "description": current.description,
            "baseUrl": current.baseUrl,
            "endpoints": current.endpoints,
            "metadata": current.metadata,
            "circuitBreaker": current.circuitBreaker,
        }
    )
    return base.model_copy(update={k: getattr(patch, k) for k in patch.model_fields_set})
