"""The ``webhook`` trigger (reference 4.2). Its nodes are checked by the webhook routing itself."""

from __future__ import annotations

from typing import Any

from flowker.catalog.model import DRAFT, Trigger

WEBHOOK_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Webhook trigger",
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
        "verify_token": {"type": "string"},
    },
    "required": ["path", "method"],
    "additionalProperties": False,
}

TRIGGERS = (Trigger(id="webhook", name="Webhook", version="v1", schema=WEBHOOK_SCHEMA),)
