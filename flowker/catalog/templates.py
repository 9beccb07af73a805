"""The ``tracer-midaz-validation`` template: validate with Tracer, then post the transaction to Midaz
when Tracer allows it (reference 4.2 and 9.1)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flowker.catalog.model import DRAFT, Template

TRACER_MIDAZ_ID = "tracer-midaz-validation"
TRACER_MIDAZ_VERSION = "v1"
DEFAULT_WEBHOOK_PATH = "/validate-and-transact"

PARAM_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Tracer validation + Midaz transaction",
    "type": "object",
    "properties": {
        "workflowName": {"type": "string", "minLength": 1, "maxLength": 100},
        "workflowDescription": {"type": "string", "maxLength": 500},
        "tracerProviderConfigId": {
            "type": "string",
            "format": "uuid",
            "description": "An active provider configuration of provider `tracer`.",
        },
        "midazProviderConfigId": {
            "type": "string",
            "format": "uuid",
            "description": "An active provider configuration of provider `midaz`.",
        },
        "webhookPath": {"type": "string", "minLength": 1, "default": DEFAULT_WEBHOOK_PATH},
        "webhookMethod": {"enum": ["POST"], "default": "POST"},
    },
    "required": ["workflowName", "tracerProviderConfigId", "midazProviderConfigId"],
    "additionalProperties": False,
}

TRACER_MIDAZ = Template(
    id=TRACER_MIDAZ_ID,
    name="Tracer Validation + Midaz Transaction",
    description=(
        "Receives a transaction by webhook, validates it with Tracer, and creates it in Midaz when "
        "Tracer's decision is ALLOW."
    ),
    version=TRACER_MIDAZ_VERSION,
    category="Compliance",
    param_schema=PARAM_SCHEMA,
    provider_params={"tracerProviderConfigId": "tracer", "midazProviderConfigId": "midaz"},
)

_TRACER_FIELDS = ("requestId", "transactionType", "amount", "currency", "transactionTimestamp", "account")


def build_tracer_midaz(params: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow definition (a create body) of reference 9.1 for checked ``params``."""
    definition: dict[str, Any] = {
        "name": params["workflowName"],
        "nodes": [
            {
                "id": "webhook-trigger",
                "type": "trigger",
                "name": "Webhook Trigger",
                "position": {"x": 250, "y": 0},
                "data": {
                    "triggerType": "webhook",
                    "path": params.get("webhookPath") or DEFAULT_WEBHOOK_PATH,
                    "method": params.get("webhookMethod") or "POST",
                },
            },
            {
                "id": "tracer-validate",
                "type": "executor",
                "name": "Tracer Validate Transaction",
                "position": {"x": 250, "y": 150},
                "data": {
                    "executorId": "tracer.validate-transaction",
                    "providerConfigId": params["tracerProviderConfigId"],
                    "method": "POST",
                    "path": "/v1/validations",
                    "inputMapping": [{"source": f"workflow.{f}", "target": f} for f in _TRACER_FIELDS],
                },
            },
            {
                "id": "decision-check",
                "type": "conditional",
                "name": "Decision Check",
                "position": {"x": 250, "y": 300},
                "data": {"condition": 'tracer-validate.body.decision == "ALLOW"'},
            },
            {
                "id": "midaz-create-tx",
                "type": "executor",
                "name": "Midaz Create Transaction",
                "position": {"x": 100, "y": 450},
                "data": {
                    "executorId": "midaz.create-transaction",
                    "providerConfigId": params["midazProviderConfigId"],
                    "inputMapping": [
                        {"source": "workflow.transaction", "target": "send"},
                        {"source": "workflow.transactionDescription", "target": "description"},
                    ],
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "webhook-trigger", "target": "tracer-validate"},
            {"id": "e2", "source": "tracer-validate", "target": "decision-check"},
            {
                "id": "e3",
                "source": "decision-check",
                "target": "midaz-create-tx",
                "sourceHandle": "true",
                "label": "Approved",
            },
        ],
        "metadata": {"templateId": TRACER_MIDAZ_ID, "templateVersion": TRACER_MIDAZ_VERSION},
    }
    if params.get("workflowDescription") is not None:
        definition["description"] = params["workflowDescription"]
    return definition


#: Template id -> its builder.
BUILDERS = {TRACER_MIDAZ_ID: build_tracer_midaz}
