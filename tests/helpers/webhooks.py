"""The reference's webhook-triggered KYC workflow (section 9.6), for the webhook tests."""

from __future__ import annotations

from typing import Any


def webhook_kyc_workflow(
    kyc_id: str,
    path: str = "/e2e/webhook-test",
    token: str | None = None,
    name: str = "Webhook KYC",
    method: str = "POST",
) -> dict[str, Any]:
    """Trigger ``{triggerId, triggerType: webhook, path, method, verify_token?}`` -> executor "Webhook KYC
    Validation" (``workflow.document -> document``, ``body.customerId -> result.customerId``); the
    webhook's method also goes to the provider (``workflow._webhook.method -> via``)."""
    trigger: dict[str, Any] = {
        "triggerId": "webhook",
        "triggerType": "webhook",
        "path": path,
        "method": method,
    }
    if token is not None:
        trigger["verify_token"] = token
    return {
        "name": name,
        "nodes": [
            {"id": "webhook-trigger", "type": "trigger", "name": "Webhook Trigger", "data": trigger},
            {
                "id": "kyc",
                "type": "executor",
                "name": "Webhook KYC Validation",
                "data": {
                    "executorConfigId": kyc_id,
                    "endpointName": "validate",
                    "inputMapping": [
                        {"source": "workflow.document", "target": "document"},
                        {"source": "workflow._webhook.method", "target": "via"},
                    ],
                    "outputMapping": [{"source": "body.customerId", "target": "result.customerId"}],
                },
            },
        ],
        "edges": [{"id": "e1", "source": "webhook-trigger", "target": "kyc"}],
    }
