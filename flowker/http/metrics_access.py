"""Who may read ``GET /metrics``.

- ``FLOWKER_METRICS_KEY`` set: that key, as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``
  (a Prometheus ``authorization`` or header setting); the API keys do not open it.
- Unset, in development: open, like ``/health``.
- Unset, in production: any configured API key (``X-API-Key``), so that nothing is open by default.

Compared in constant time; the value presented is never logged.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from aiohttp import web

from flowker.domain.api_keys import ApiKey, KeyRing
from flowker.errors import Unauthorized
from flowker.http.middleware.headers import raw_bytes


class MetricsAccess:
    """Checks a request to ``/metrics``."""

    def __init__(self, metrics_key: str | None, production: bool, api_keys: Sequence[ApiKey]) -> None:
        self._key = metrics_key.encode() if metrics_key else None
        self._ring = KeyRing(api_keys) if production and metrics_key is None else None

    def check(self, request: web.Request) -> None:
        """Return when the request may read the metrics; raise 401 otherwise."""
        if self._key is not None:
            presented = [raw_bytes(request.headers.get("X-API-Key", ""))]
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() == "bearer":
                presented.append(raw_bytes(token.strip()))
            if not any(hmac.compare_digest(p, self._key) for p in presented if p):
                raise Unauthorized("the metrics key is missing or wrong")
        elif (
            self._ring is not None
            and self._ring.match(raw_bytes(request.headers.get("X-API-Key", ""))) is None
        ):
            raise Unauthorized("API Key missing or invalid")
