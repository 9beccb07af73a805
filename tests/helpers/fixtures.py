"""Realistic payloads: the reference's KYC → risk → AML / reject workflow (section 9.2) and its providers."""

from __future__ import annotations

from typing import Any


def kyc_executor(base_url: str = "http://127.0.0.1:9/v1/kyc", name: str = "kyc-provider") -> dict[str, Any]:
    return {
        "name": name,
        "description": "Mock KYC provider",
        "baseUrl": base_url,
        "endpoints": [{"name": "validate", "path": "/validate", "method": "POST", "timeout": 10}],
        "authentication": {
            "type": "api_key",
            "config": {"key": "kyc-secret-key-123456", "header_name": "X-API-Key"},
        },
    }


def aml_executor(base_url: str = "http://127.0.0.1:9/v1/aml", name: str = "aml-provider") -> dict[str, Any]:
    return {
        "name": name,
        "baseUrl": base_url,
        "endpoints": [{"name": "check", "path": "/check", "method": "POST"}],
        "authentication": {"type": "bearer", "config": {"token": "aml-bearer-token-abcdef"}},
    }


def compliance_workflow(
    kyc_id: str, aml_id: str, name: str = "complex compliance workflow"
) -> dict[str, Any]:
    """Reference 9.2, executor nodes bound to executor configurations."""
    return {
        "name": name,
        "description": "KYC, then AML for low risk, reject for high risk",
        "nodes": [
            {
                "id": "trigger-entry",
                "type": "trigger",
                "name": "Entry",
                "position": {"x": 250, "y": 0},
                "data": {"triggerId": "webhook"},
            },
            {
                "id": "kyc-executor",
                "type": "executor",
                "name": "KYC Validation",
                "position": {"x": 250, "y": 150},
                "data": {
                    "executorConfigId": kyc_id,
                    "endpointName": "validate",
                    "inputMapping": [
                        {
                            "source": "workflow.customer.cpf",
                            "target": "document",
                            "required": True,
                            "transformation": {"type": "remove_characters", "config": {"characters": ".-"}},
                        },
                        {
                            "source": "workflow.customer.name",
                            "target": "fullName",
                            "transformation": {"type": "to_uppercase"},
                        },
                    ],
                    "outputMapping": [
                        {"source": "body.customerId", "target": "result.customerId"},
                        {"source": "body.riskScore", "target": "result.riskScore"},
                    ],
                },
            },
            {
                "id": "risk-check",
                "type": "conditional",
                "name": "Risk Assessment",
                "position": {"x": 250, "y": 300},
                "data": {"condition": "kyc-executor.result.riskScore < 50"},
            },
            {
                "id": "aml-executor",
                "type": "executor",
                "name": "AML Check",
                "position": {"x": 100, "y": 450},
                "data": {
                    "executorConfigId": aml_id,
                    "endpointName": "check",
                    "inputMapping": [
                        {
                            "source": "kyc-executor.result.customerId",
                            "target": "customerId",
                            "required": True,
                        },
                        {
                            "source": "workflow.transaction.amount",
                            "target": "transactionAmount",
                            "required": True,
                        },
                    ],
                    "outputMapping": [
                        {"source": "body.amlStatus", "target": "result.amlStatus"},
                        {"source": "body.referenceId", "target": "result.referenceId"},
                    ],
                },
            },
            {
                "id": "approve-action",
                "type": "action",
                "name": "Approve Transaction",
                "position": {"x": 100, "y": 600},
                "data": {"actionType": "set_output", "output": {"decision": "approved"}},
            },
            {
                "id": "reject-action",
                "type": "action",
                "name": "Reject Transaction",
                "position": {"x": 400, "y": 450},
                "data": {
                    "actionType": "set_output",
                    "output": {"decision": "rejected", "reason": "high risk score"},
                },
            },
        ],
        "edges": [
            {"id": "e1", "source": "trigger-entry", "target": "kyc-executor"},
            {"id": "e2", "source": "kyc-executor", "target": "risk-check"},
            {
                "id": "e3",
                "source": "risk-check",
                "target": "aml-executor",
                "sourceHandle": "true",
                "label": "low risk",
            },
            {"id": "e4", "source": "risk-check", "target": "reject-action", "sourceHandle": "false"},
            {"id": "e5", "source": "aml-executor", "target": "approve-action"},
        ],
        "metadata": {"team": "compliance", "version": "1.0"},
    }
