"""The catalog's schemas: valid draft 2020-12, formats asserted, messages that never show a value."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from flowker.catalog import registry
from flowker.catalog.model import DRAFT
from flowker.catalog.templates import build_tracer_midaz
from flowker.catalog.validation import first_problem, problems
from flowker.dsl.model import WorkflowDefinition
from flowker.dsl.validation import check_draft

ORG, LEDGER = str(uuid.uuid4()), str(uuid.uuid4())


def every_schema() -> list[tuple[str, Any]]:
    return [
        *[(f"provider {p.id}", p.config_schema) for p in registry.PROVIDERS.values()],
        *[(f"executor {e.id}", e.schema) for e in registry.EXECUTORS.values()],
        *[(f"trigger {t.id}", t.schema) for t in registry.TRIGGERS.values()],
        *[(f"template {t.id}", t.param_schema) for t in registry.TEMPLATES.values()],
    ]


@pytest.mark.parametrize(("name", "schema"), every_schema(), ids=[n for n, _ in every_schema()])
def test_every_schema_is_a_valid_draft_2020_12_schema(name: str, schema: Any) -> None:
    assert schema["$schema"] == DRAFT, name
    Draft202012Validator.check_schema(schema)
    json.dumps(schema)  # served as a JSON string


def test_the_catalog_holds_what_the_reference_lists() -> None:
    assert list(registry.PROVIDERS) == ["http", "midaz", "tracer"]
    assert list(registry.EXECUTORS) == [
        "http",
        "midaz.create-account",
        "midaz.create-transaction",
        "midaz.get-account",
        "midaz.get-account-balance",
        "tracer.list-validations",
        "tracer.validate-transaction",
    ]
    assert list(registry.TRIGGERS) == ["webhook"]
    assert list(registry.TEMPLATES) == ["tracer-midaz-validation"]
    for executor in registry.EXECUTORS.values():
        assert executor.provider_id in registry.PROVIDERS
        assert executor.id == executor.provider_id or executor.id.startswith(executor.provider_id + ".")


def midaz_config(**changes: Any) -> dict[str, Any]:
    config = {
        "onboarding_base_url": "https://onboarding.midaz.example.com",
        "transaction_base_url": "https://transaction.midaz.example.com",
        "organization_id": ORG,
        "ledger_id": LEDGER,
    }
    return {**config, **changes}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"onboarding_base_url": "not a uri"}, "$.onboarding_base_url: must be a valid uri"),
        ({"organization_id": "org-1"}, "$.organization_id: must be a valid uuid"),
        ({"ledger_id": 7}, "$.ledger_id: must be of type string"),
        ({"extra": 1}, "$: unknown properties 'extra'"),
        (
            {"auth": {"issuer_url": "https://idp.example.com", "client_id": "c"}},
            "$.auth: missing required properties 'client_secret'",
        ),
    ],
)
def test_midaz_configuration_formats_are_asserted(changes: dict[str, Any], expected: str) -> None:
    assert first_problem(registry.PROVIDERS["midaz"].config_schema, midaz_config(**changes)) == expected


def test_a_valid_midaz_configuration_passes() -> None:
    auth = {"issuer_url": "https://idp.example.com", "client_id": "c", "client_secret": "s", "scopes": ["a"]}
    assert problems(registry.PROVIDERS["midaz"].config_schema, midaz_config(auth=auth)) == []


def test_a_message_never_shows_the_value_at_fault() -> None:
    secret = "sk_live_51HQ-very-secret"
    schema = registry.PROVIDERS["tracer"].config_schema
    for config in (
        {"base_url": secret, "api_key": "k"},
        {"base_url": "https://tracer.example.com", "api_key": 12345},
        {"base_url": "https://tracer.example.com", "api_key": "", "extra": secret},
    ):
        for problem in problems(schema, config):
            assert secret not in problem and "12345" not in problem, problem


def tracer_input(**changes: Any) -> dict[str, Any]:
    body = {
        "requestId": str(uuid.uuid4()),
        "transactionType": "PIX",
        "amount": "1000.00",
        "currency": "BRL",
        "transactionTimestamp": "2026-05-01T12:00:00Z",
        "account": {"accountId": str(uuid.uuid4()), "type": "checking", "status": "active"},
    }
    return {**body, **changes}


def test_tracer_validate_transaction_input() -> None:
    schema = registry.EXECUTORS["tracer.validate-transaction"].schema
    assert problems(schema, tracer_input()) == []
    assert first_problem(schema, tracer_input(transactionTimestamp="yesterday")) == (
        "$.transactionTimestamp: must be a valid date-time"
    )
    assert first_problem(schema, tracer_input(requestId="r-1")) == "$.requestId: must be a valid uuid"
    assert first_problem(schema, tracer_input(transactionType="CASH")) == (
        "$.transactionType: must be one of 'CARD', 'WIRE', 'PIX', 'CRYPTO'"
    )
    # The reference's negative fixture: an unknown field is refused.
    assert "unknown properties 'unknown_field'" in " ".join(problems(schema, {"unknown_field": True}))


def test_webhook_trigger_schema() -> None:
    schema = registry.TRIGGERS["webhook"].schema
    assert problems(schema, {"path": "/hook", "method": "POST", "verify_token": "t"}) == []
    assert first_problem(schema, {"path": "/hook", "method": "HEAD"}) == (
        "$.method: must be one of 'GET', 'POST', 'PUT', 'PATCH', 'DELETE'"
    )
    assert first_problem(schema, {"method": "POST"}) == "$: missing required properties 'path'"
    assert first_problem(schema, {"path": "/h", "method": "GET", "x": 1}) == "$: unknown properties 'x'"


def test_the_template_builds_the_reference_workflow() -> None:
    tracer, midaz = str(uuid.uuid4()), str(uuid.uuid4())
    params = {"workflowName": "validate", "tracerProviderConfigId": tracer, "midazProviderConfigId": midaz}
    assert problems(registry.TEMPLATES["tracer-midaz-validation"].param_schema, params) == []
    definition = build_tracer_midaz(params)
    assert [n["id"] for n in definition["nodes"]] == [
        "webhook-trigger",
        "tracer-validate",
        "decision-check",
        "midaz-create-tx",
    ]
    assert [(n["position"]["x"], n["position"]["y"]) for n in definition["nodes"]] == [
        (250, 0),
        (250, 150),
        (250, 300),
        (100, 450),
    ]
    assert definition["nodes"][0]["data"] == {
        "triggerType": "webhook",
        "path": "/validate-and-transact",
        "method": "POST",
    }
    assert definition["nodes"][1]["data"]["providerConfigId"] == tracer
    assert definition["nodes"][3]["data"]["providerConfigId"] == midaz
    assert definition["edges"][2] == {
        "id": "e3",
        "source": "decision-check",
        "target": "midaz-create-tx",
        "sourceHandle": "true",
        "label": "Approved",
    }
    assert definition["metadata"] == {"templateId": "tracer-midaz-validation", "templateVersion": "v1"}
    check_draft(WorkflowDefinition.model_validate(definition), frozenset(registry.EXECUTORS))


def test_template_params_are_checked() -> None:
    schema = registry.TEMPLATES["tracer-midaz-validation"].param_schema
    base = {
        "workflowName": "w",
        "tracerProviderConfigId": str(uuid.uuid4()),
        "midazProviderConfigId": str(uuid.uuid4()),
    }
    assert first_problem(schema, {**base, "tracerProviderConfigId": "t"}) == (
        "$.tracerProviderConfigId: must be a valid uuid"
    )
    assert first_problem(schema, {**base, "webhookMethod": "GET"}) == "$.webhookMethod: must be one of 'POST'"
    assert (
        first_problem(schema, {**base, "workflowName": "x" * 101})
        == "$.workflowName: must satisfy maxLength 100"
    )
