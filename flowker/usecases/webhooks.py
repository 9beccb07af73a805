"""Webhook deliveries: ``ANY /v1/webhooks/{path}`` starts the active workflow whose webhook trigger owns
METHOD+path, through the same start as ``POST /v1/workflows/{id}/executions``.

The route is looked up in the store's table (every front door sees the same), its token checked in
constant time, and the body (``{}`` when empty) becomes ``inputData`` with a ``_webhook`` object:
``{method, path, headers, query, remote_ip}`` (headers without credentials; a ``_webhook`` the body
itself has is replaced).

Idempotency: an ``Idempotency-Key`` header is used as on the API. Without one, the key is derived
from the delivery, so that a provider's retry of it does not start a second execution: SHA-256 of the
workflow, method, path, body bytes and the provider's delivery id header when one is present
(:data:`~flowker.tunables.WEBHOOK_DELIVERY_ID_HEADERS`), plus the number of the dedup window
(``FLOWKER_WEBHOOK_DEDUP_SECONDS`` long) it arrives in. A delivery first looks for the execution of
the previous window's key, and takes it if that one started less than a window ago: so a repeat within
one window of the first delivery always answers the first's execution, and one later starts anew.
Either way the key is bound to the body (not to ``_webhook``: retries differ in headers and address).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flowker.clock import Clock, utc_now
from flowker.codes import WEBHOOK_ROUTE_NOT_FOUND, WEBHOOK_TOKEN_INVALID
from flowker.domain.audit import SYSTEM, Actor
from flowker.dsl.webhook_trigger import WebhookRoute, normalise_path, token_matches
from flowker.errors import NotFound, Unauthorized
from flowker.store.ports import Store
from flowker.tunables import WEBHOOK_DELIVERY_ID_HEADERS, WEBHOOK_HIDDEN_HEADERS
from flowker.usecases.executions import Executions, Started

#: The prefix of a derived idempotency key.
DERIVED_KEY_PREFIX = "webhook-"


@dataclass(frozen=True)
class Delivery:
    """One webhook request, as the front door read it."""

    method: str
    path: str
    body: dict[str, Any]
    raw_body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, Any]
    remote_ip: str
    token: bytes | None = None
    idempotency_key: str | None = None
    #: The delivery id header ``(name, value)`` found, if any.
    delivery_id: tuple[str, str] | None = None


@dataclass(frozen=True)
class WebhookStarted:
    started: Started
    route: WebhookRoute


class Webhooks:
    """The webhook use case over the store's route table and the execution start."""

    def __init__(
        self, store: Store, executions: Executions, dedup_seconds: float, clock: Clock = utc_now
    ) -> None:
        self._store = store
        self._executions = executions
        self._window = dedup_seconds
        self._clock = clock

    async def route(self, method: str, raw_path: str, token: bytes | None) -> WebhookRoute:
        """The route of METHOD+path (404 FLK-0361), its token checked (401 FLK-0362)."""
        try:
            path = normalise_path(raw_path)
        except ValueError:
            path = None
        route = await self._store.webhook_routes.find(method.upper(), path) if path else None
        if route is None:
            raise NotFound(
                f"no active workflow has a webhook trigger for {method.upper()} {shown_path(raw_path)}",
                code=WEBHOOK_ROUTE_NOT_FOUND,
            )
        if route.token_hash is not None and (token is None or not token_matches(route.token_hash, token)):
            raise Unauthorized("X-Webhook-Token is missing or invalid", code=WEBHOOK_TOKEN_INVALID)
        return route

    async def receive(self, route: WebhookRoute, delivery: Delivery, actor: Actor = SYSTEM) -> WebhookStarted:
        """Start (or find again) the execution of ``delivery`` on the workflow ``route`` names."""
        input_data = {
            **delivery.body,
            "_webhook": {
                "method": route.method,
                "path": route.path,
                "headers": visible_headers(delivery.headers),
                "query": dict(delivery.query),
                "remote_ip": delivery.remote_ip,
            },
        }
        key = delivery.idempotency_key
        if key is None:
            key = await self._derived_key(route, delivery)
        started = await self._executions.start(
            route.workflow_id, input_data, key, actor, bound_to=delivery.body
        )
        return WebhookStarted(started, route)

    async def _derived_key(self, route: WebhookRoute, delivery: Delivery) -> str:
        digest = delivery_digest(route, delivery)
        now = self._clock()
        window = math.floor(now.timestamp() / self._window)
        previous = f"{DERIVED_KEY_PREFIX}{digest}-{window - 1}"
        found = await self._store.executions.find_by_key(previous)
        if found is not None and _started(found.startedAt) > now - timedelta(seconds=self._window):
            return previous
        return f"{DERIVED_KEY_PREFIX}{digest}-{window}"


def delivery_digest(route: WebhookRoute, delivery: Delivery) -> str:
    """SHA-256 (hex) of what makes a delivery the same one again (see the module)."""
    digest = hashlib.sha256()
    delivery_id = delivery.delivery_id or ("", "")
    for part in (route.workflow_id, route.method, route.path, delivery_id[0].lower(), delivery_id[1]):
        value = part.encode("utf-8", "surrogateescape")
        digest.update(len(value).to_bytes(8, "big") + value)
    digest.update(delivery.raw_body)
    return digest.hexdigest()


def delivery_id(headers: Mapping[str, str]) -> tuple[str, str] | None:
    """The first delivery id header present (name, value)."""
    for name in WEBHOOK_DELIVERY_ID_HEADERS:
        value = headers.get(name)
        if value:
            return name, value
    return None


def visible_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The request's headers for ``_webhook``: credentials left out, repeated ones joined by ``, ``."""
    shown: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in WEBHOOK_HIDDEN_HEADERS:
            continue
        shown[name] = f"{shown[name]}, {value}" if name in shown else value
    return shown


def shown_path(raw: str) -> str:
    """The path as an error message may show it: bounded, printable."""
    text = "/" + raw.lstrip("/")
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= 100 else text[:100] + "…"


def _started(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
