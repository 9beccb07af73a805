"""The OpenAPI 3.1 document of this API (placeholder replaced below)."""

from __future__ import annotations

from typing import Any


def openapi_document() -> dict[str, Any]:
    """The document served at ``/openapi.json``."""
    return {"openapi": "3.1.0", "info": {"title": "Flowker", "version": "0"}, "paths": {}}
