"""The sandbox's simulated providers as functions of their requests: no HTTP, no clock."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flowker.domain.sandbox_answers import (
    SANDBOX_API_KEY,
    UNKNOWN_ACCOUNT,
    Sandbox,
    SandboxAnswer,
    SandboxRequest,
    derived_id,
)

HOLD = 30.0
ORG, LEDGER = "org-1", "ledger-1"
ACCOUNT = "5b0e4c9a-1111-4222-8333-444455556666"


def ask(
    sandbox: Sandbox,
    operation: str,
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    credential: str | None = SANDBOX_API_KEY,
    key: str | None = None,
) -> SandboxAnswer:
    return sandbox.answer(
        SandboxRequest(
            operation=operation,
            params=params or {},
            query=query or {},
            body=body,
            credential=credential,
            idempotency_key=key,
        )
    )


def tracer_body(amount: str = "1000.00", status: str = "active", request_id: str = "r-1") -> dict[str, Any]:
    return {
        "requestId": request_id,
        "transactionType": "PIX",
        "amount": amount,
        "currency": "BRL",
        "transactionTimestamp": "2026-01-02T03:04:05Z",
        "account": {"accountId": "acc-1", "type": "checking", "status": status},
    }


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox(HOLD)


# --- credentials ------------------------------------------------------------------------------
@pytest.mark.parametrize("credential", [None, "", "sandbox-ke", "sandbox-key ", "SANDBOX-KEY"])
def test_a_missing_or_wrong_credential_is_refused_with_401(sandbox: Sandbox, credential: str | None) -> None:
    answer = ask(sandbox, "kyc.validate", {"document": "1"}, credential=credential)
    assert answer.status == 401
    assert answer.body["code"] == "SANDBOX_UNAUTHORIZED"
    assert SANDBOX_API_KEY not in str(answer.body)


def test_only_midaz_base_paths_answer_without_a_credential(sandbox: Sandbox) -> None:
    # A Midaz configuration authenticates with OIDC, and a connectivity test requests no token.
    for provider in ("midaz/onboarding", "midaz/transaction"):
        answer = ask(sandbox, "root", params={"provider": provider}, credential=None)
        assert (answer.status, answer.body["provider"]) == (200, provider)
    for provider in ("kyc", "aml", "tracer"):
        assert ask(sandbox, "root", params={"provider": provider}, credential=None).status == 401
    account = {"org": ORG, "ledger": LEDGER, "accountId": ACCOUNT}
    assert ask(sandbox, "midaz.get-account", params=account, credential=None).status == 401


# --- KYC and AML (reference 9.2) --------------------------------------------------------------
def test_kyc_approves_a_document_starting_with_1_and_reviews_any_other(sandbox: Sandbox) -> None:
    approved = ask(sandbox, "kyc.validate", {"document": "12345678900", "fullName": "JOHN DOE"})
    assert (approved.status, approved.body) == (
        200,
        {"customerId": "CUST-001", "riskScore": 25, "status": "approved"},
    )
    review = ask(sandbox, "kyc.validate", {"document": "99999999999"})
    assert (review.status, review.body) == (
        200,
        {"customerId": "CUST-999", "riskScore": 85, "status": "review"},
    )


@pytest.mark.parametrize("body", [None, [], {}, {"document": ""}, {"document": 123}])
def test_kyc_needs_a_document(sandbox: Sandbox, body: Any) -> None:
    answer = ask(sandbox, "kyc.validate", body)
    assert answer.status == 400 and answer.body["code"] == "SANDBOX_INVALID_REQUEST"


def test_aml_clears_with_a_reference_derived_from_the_input(sandbox: Sandbox) -> None:
    first = ask(sandbox, "aml.check", {"customerId": "CUST-001", "transactionAmount": 1500.5})
    again = ask(Sandbox(HOLD), "aml.check", {"customerId": "CUST-001", "transactionAmount": 1500.5})
    other = ask(sandbox, "aml.check", {"customerId": "CUST-002", "transactionAmount": 1500.5})
    assert first.status == 200 and first.body["amlStatus"] == "cleared"
    assert first.body["referenceId"].startswith("AML-REF-") and len(first.body["referenceId"]) == 16
    assert first.body == again.body
    assert other.body["referenceId"] != first.body["referenceId"]
    assert (
        ask(sandbox, "aml.check", {"customerId": "C", "transactionAmount": 100001}).body["amlStatus"]
        == "review"
    )


@pytest.mark.parametrize(
    "body", [{"customerId": "C"}, {"transactionAmount": 1}, {"customerId": "C", "transactionAmount": True}]
)
def test_aml_needs_a_customer_and_an_amount(sandbox: Sandbox, body: Any) -> None:
    assert ask(sandbox, "aml.check", body).status == 400


# --- tracer -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "status", "decision"),
    [
        ("0.00", "active", "ALLOW"),
        ("10000.00", "active", "ALLOW"),
        ("10000.01", "active", "REVIEW"),
        ("50000.00", "active", "REVIEW"),
        ("50000.01", "active", "DENY"),
        ("1.00", "suspended", "DENY"),
        ("1.00", "closed", "DENY"),
    ],
)
def test_tracer_decides_by_amount_and_account_status(
    sandbox: Sandbox, amount: str, status: str, decision: str
) -> None:
    answer = ask(sandbox, "tracer.validate-transaction", tracer_body(amount, status))
    assert answer.status == 201
    assert answer.body["decision"] == decision
    assert answer.body["requestId"] == "r-1" and answer.body["amount"] == amount
    assert answer.body["createdAt"] == "2026-01-02T03:04:05Z"  # from the input, not a clock


def test_tracer_answers_the_same_request_the_same_way(sandbox: Sandbox) -> None:
    first = ask(sandbox, "tracer.validate-transaction", tracer_body())
    second = ask(Sandbox(HOLD), "tracer.validate-transaction", tracer_body())
    assert first.body == second.body
    assert first.body["validationId"] == derived_id("tracer", tracer_body())
    assert (
        ask(sandbox, "tracer.validate-transaction", tracer_body(request_id="r-2")).body["validationId"]
        != (first.body["validationId"])
    )


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"transactionType": "CASH"}, "transactionType"),
        ({"amount": "ten"}, "amount"),
        ({"amount": 10}, "amount"),
        ({"amount": "-1"}, "amount"),
        ({"currency": "brl"}, "currency"),
        ({"requestId": None}, "requestId"),
        ({"transactionTimestamp": None}, "transactionTimestamp"),
        ({"account": {"type": "checking"}}, "account.accountId"),
        ({"account": "acc-1"}, "account"),
    ],
)
def test_tracer_refuses_a_request_missing_its_essentials(
    sandbox: Sandbox, change: dict[str, Any], where: str
) -> None:
    body = {**tracer_body(), **change}
    answer = ask(sandbox, "tracer.validate-transaction", body)
    assert answer.status == 400, answer.body
    assert where in answer.body["message"]


def test_tracer_lists_the_validations_made_with_filters_and_pages(sandbox: Sandbox) -> None:
    made = [
        ask(sandbox, "tracer.validate-transaction", tracer_body(amount, request_id=f"r-{i}")).body
        for i, amount in enumerate(["1.00", "20000.00", "2.00", "90000.00", "3.00"])
    ]
    everything = ask(sandbox, "tracer.list-validations", query={"limit": "100"})
    assert everything.body["items"] == made and everything.body["hasMore"] is False
    allowed = ask(sandbox, "tracer.list-validations", query={"decision": "ALLOW", "limit": "2"})
    assert [v["requestId"] for v in allowed.body["items"]] == ["r-0", "r-2"]
    assert allowed.body["hasMore"] is True
    rest = ask(
        sandbox,
        "tracer.list-validations",
        query={"decision": "ALLOW", "limit": "2", "cursor": allowed.body["nextCursor"]},
    )
    assert [v["requestId"] for v in rest.body["items"]] == ["r-4"] and rest.body["nextCursor"] is None
    assert ask(sandbox, "tracer.list-validations", query={"accountId": "nobody"}).body["items"] == []
    for bad in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"cursor": "not-one"}):
        assert ask(sandbox, "tracer.list-validations", query=bad).status == 400, bad


# --- midaz ------------------------------------------------------------------------------------
TRANSACTION = {
    "description": "first",
    "send": {
        "asset": "BRL",
        "value": "1000.00",
        "source": {"from": [{"accountAlias": "@payer"}]},
        "distribute": {"to": [{"accountAlias": "@payee"}]},
    },
}
LEDGER_PARAMS = {"org": ORG, "ledger": LEDGER}


def test_midaz_creates_an_approved_transaction_with_an_id_from_its_content(sandbox: Sandbox) -> None:
    answer = ask(sandbox, "midaz.create-transaction", TRANSACTION, params=LEDGER_PARAMS)
    assert answer.status == 201
    body = answer.body
    assert body["status"] == {"code": "APPROVED"}
    assert (body["organizationId"], body["ledgerId"], body["assetCode"], body["amount"]) == (
        ORG,
        LEDGER,
        "BRL",
        "1000.00",
    )
    assert (body["source"], body["destination"]) == (["@payer"], ["@payee"])
    assert (
        ask(sandbox, "midaz.create-transaction", copy.deepcopy(TRANSACTION), params=LEDGER_PARAMS).body
        == body
    )
    pending = ask(sandbox, "midaz.create-transaction", {**TRANSACTION, "pending": True}, params=LEDGER_PARAMS)
    assert pending.body["status"] == {"code": "PENDING"} and pending.body["id"] != body["id"]


@pytest.mark.parametrize(
    "send",
    [
        None,
        {
            "value": "1",
            "source": {"from": [{"accountAlias": "@a"}]},
            "distribute": {"to": [{"accountAlias": "@b"}]},
        },
        {
            "asset": "BRL",
            "value": "x",
            "source": {"from": [{"accountAlias": "@a"}]},
            "distribute": {"to": [{"accountAlias": "@b"}]},
        },
        {
            "asset": "BRL",
            "value": "1",
            "source": {"from": []},
            "distribute": {"to": [{"accountAlias": "@b"}]},
        },
        {
            "asset": "BRL",
            "value": "1",
            "source": {"from": [{"accountAlias": "@a"}]},
            "distribute": {"to": [{}]},
        },
    ],
)
def test_midaz_refuses_a_transaction_without_its_essentials(sandbox: Sandbox, send: Any) -> None:
    assert ask(sandbox, "midaz.create-transaction", {"send": send}, params=LEDGER_PARAMS).status == 400


def test_midaz_accounts_created_read_and_balanced(sandbox: Sandbox) -> None:
    created = ask(
        sandbox,
        "midaz.create-account",
        {"assetCode": "BRL", "type": "deposit", "alias": "@me"},
        params=LEDGER_PARAMS,
    )
    assert created.status == 201
    assert created.body["alias"] == "@me" and created.body["status"] == {"code": "ACTIVE"}
    assert ask(sandbox, "midaz.create-account", {"assetCode": "BRL"}, params=LEDGER_PARAMS).status == 400
    params = {**LEDGER_PARAMS, "accountId": ACCOUNT}
    account = ask(sandbox, "midaz.get-account", params=params)
    assert account.status == 200 and account.body["id"] == ACCOUNT and account.body["ledgerId"] == LEDGER
    balance = ask(sandbox, "midaz.get-account-balance", params=params)
    assert balance.status == 200
    [item] = balance.body["items"]
    assert (item["accountId"], item["available"], item["assetCode"]) == (ACCOUNT, "10000.00", "BRL")
    unknown = {**LEDGER_PARAMS, "accountId": UNKNOWN_ACCOUNT}
    assert ask(sandbox, "midaz.get-account", params=unknown).status == 404
    assert ask(sandbox, "midaz.get-account-balance", params=unknown).status == 404


# --- failure and latency modes ----------------------------------------------------------------
def test_fail_every_attempt_with_the_status_asked(sandbox: Sandbox) -> None:
    body = {"document": "1", "sandbox": {"fail": "503"}}
    for attempt in (1, 2, 3):
        answer = ask(sandbox, "kyc.validate", body, key="exec-1:kyc")
        assert (answer.status, answer.body["code"]) == (503, "SANDBOX_SIMULATED_FAILURE")
        assert f"attempt {attempt}" in answer.body["message"]


def test_fail_the_first_attempts_then_answer(sandbox: Sandbox) -> None:
    body = {"document": "1", "sandbox": {"fail": 500, "times": 2}}
    statuses = [ask(sandbox, "kyc.validate", body, key="exec-1:kyc").status for _ in range(4)]
    assert statuses == [500, 500, 200, 200]
    # Another call (another Idempotency-Key) counts its own attempts.
    assert ask(sandbox, "kyc.validate", body, key="exec-2:kyc").status == 500
    # Without a key, the attempts of a call are the requests with the same content.
    assert [ask(sandbox, "kyc.validate", body).status for _ in range(3)] == [500, 500, 200]


def test_429_says_when_to_come_back_and_timeout_holds_the_answer(sandbox: Sandbox) -> None:
    limited = ask(
        sandbox, "aml.check", {"customerId": "C", "transactionAmount": 1, "sandbox": {"fail": "429"}}
    )
    assert (limited.status, dict(limited.headers)) == (429, {"Retry-After": "1"})
    held = ask(
        sandbox, "aml.check", {"customerId": "C", "transactionAmount": 1, "sandbox": {"fail": "timeout"}}
    )
    assert (held.status, held.delay_seconds) == (504, HOLD)


def test_delay_applies_to_answers_and_failures_alike(sandbox: Sandbox) -> None:
    ok = ask(sandbox, "kyc.validate", {"document": "1", "sandbox": {"delayMs": 250}})
    assert (ok.status, ok.delay_seconds, ok.body["customerId"]) == (200, 0.25, "CUST-001")
    failed = ask(sandbox, "kyc.validate", {"document": "1", "sandbox": {"fail": "502", "delayMs": 10}})
    assert (failed.status, failed.delay_seconds) == (502, 0.01)


def test_get_requests_ask_for_modes_in_the_query(sandbox: Sandbox) -> None:
    params = {**LEDGER_PARAMS, "accountId": ACCOUNT}
    query = {"sandboxFail": "500", "sandboxTimes": "1", "sandboxDelayMs": "5"}
    first = ask(sandbox, "midaz.get-account", params=params, query=query)
    second = ask(sandbox, "midaz.get-account", params=params, query=query)
    assert (first.status, first.delay_seconds, second.status) == (500, 0.005, 200)


@pytest.mark.parametrize(
    "mode",
    [
        "500",
        {"fail": "404"},
        {"fail": "500", "times": 0},
        {"fail": "500", "times": "many"},
        {"times": 2},
        {"delayMs": -1},
        {"delayMs": 10_001},
        {"delayMs": True},
        {"delayMs": 1.5},
    ],
)
def test_an_unknown_mode_is_refused_with_400(sandbox: Sandbox, mode: Any) -> None:
    answer = ask(sandbox, "kyc.validate", {"document": "1", "sandbox": mode})
    assert (answer.status, answer.body["code"]) == (400, "SANDBOX_BAD_MODE")


def test_the_credential_is_checked_before_any_mode(sandbox: Sandbox) -> None:
    body = {"document": "1", "sandbox": {"fail": "500"}}
    assert ask(sandbox, "kyc.validate", body, credential="wrong").status == 401


def test_a_body_nested_too_deep_is_a_400_not_an_error(sandbox: Sandbox) -> None:
    deep: Any = "x"
    for _ in range(300):  # beyond what the hashing's encoder takes (254 levels)
        deep = {"a": deep}
    body = {**tracer_body(), "metadata": deep}
    answer = ask(sandbox, "tracer.validate-transaction", body)
    assert (answer.status, answer.body["code"]) == (400, "SANDBOX_INVALID_REQUEST")
    shallow: Any = "x"
    for _ in range(20):
        shallow = {"a": shallow}
    assert ask(sandbox, "tracer.validate-transaction", {**tracer_body(), "metadata": shallow}).status == 201


def test_the_template_sample_of_reference_9_1_is_allowed_then_booked(sandbox: Sandbox) -> None:
    """What tracer-midaz-validation sends: tracer-validate's mapped input, then workflow.transaction as
    ``send`` once ``tracer-validate.body.decision == "ALLOW"``."""
    sample = {
        "requestId": "6f1c0e4a-8b2d-4c3e-9a57-0f10e4b5a001",
        "transactionType": "PIX",
        "amount": "1000.00",
        "currency": "BRL",
        "transactionTimestamp": "2026-01-02T03:04:05Z",
        "account": {
            "accountId": "7a2d0e4a-8b2d-4c3e-9a57-0f10e4b5a002",
            "type": "checking",
            "status": "active",
        },
        "transaction": {
            "asset": "BRL",
            "value": "1000.00",
            "source": {"from": [{"accountAlias": "@payer"}]},
            "distribute": {"to": [{"accountAlias": "@payee"}]},
        },
        "transactionDescription": "first PIX",
    }
    tracer_input = {k: sample[k] for k in ("requestId", "transactionType", "amount", "currency")}
    tracer_input |= {"transactionTimestamp": sample["transactionTimestamp"], "account": sample["account"]}
    decision = ask(sandbox, "tracer.validate-transaction", tracer_input)
    assert (decision.status, decision.body["decision"]) == (201, "ALLOW")
    booked = ask(
        sandbox,
        "midaz.create-transaction",
        {"send": sample["transaction"], "description": sample["transactionDescription"]},
        params=LEDGER_PARAMS,
    )
    assert booked.status == 201 and booked.body["description"] == "first PIX"
