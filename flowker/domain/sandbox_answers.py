"""The sandbox's simulated providers: each answer a function of the request (``docs/sandbox.md``).

KYC and AML are the README's example providers (reference §9.2); tracer and midaz answer at the paths
and in the shapes of the real APIs' essentials (reference §4.2). Ids are derived from the input by
hashing, and no answer holds the time unless the input gave it: the same request gets the same answer.
The one memory is tracer's list of the validations made (bounded), which ``GET /v1/validations`` reads.
"""

from __future__ import annotations

import hmac
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from flowker.domain.sandbox_modes import FAILURES, Attempts, ModeError, split_mode

#: The credential every sandbox provider expects (``X-API-Key``, or ``Authorization: Bearer``).
SANDBOX_API_KEY = "sandbox-key"
#: Deeper request bodies are refused (400): no simulated API needs them, and hashing them would fail.
MAX_DEPTH = 32
#: Tracer validations remembered for its list at most (oldest forgotten first).
MAX_VALIDATIONS = 1000
#: Tracer's decision thresholds (amounts in the transaction's currency).
REVIEW_ABOVE = Decimal("10000.00")
DENY_ABOVE = Decimal("50000.00")
#: AML answers ``review`` above this transaction amount, ``cleared`` otherwise.
AML_REVIEW_ABOVE = Decimal("100000")
#: An account id midaz does not know (404), so the not-found path can be tried.
UNKNOWN_ACCOUNT = "00000000-0000-0000-0000-000000000000"
TRANSACTION_TYPES = ("CARD", "WIRE", "PIX", "CRYPTO")
DECISIONS = ("ALLOW", "DENY", "REVIEW")
_NAMESPACE = uuid.UUID("5a4d8b0e-6f1c-4c3e-9a57-0f10e4b5a001")


@dataclass(frozen=True)
class SandboxRequest:
    """One request to a simulated provider, as the route module read it.

    Attributes:
        operation: Which one (a key of :data:`OPERATIONS`).
        params: Path parameters (``org``, ``ledger``, ``accountId``).
        query: Query parameters.
        body: The parsed JSON body, None without one.
        credential: ``X-API-Key``, else the token of ``Authorization: Bearer``; None without either.
        idempotency_key: ``Idempotency-Key``, which groups the attempts of one call.
    """

    operation: str
    params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    credential: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class SandboxAnswer:
    """What to answer: after ``delay_seconds``, ``status`` with ``body`` (JSON) and ``headers``."""

    status: int
    body: Any
    delay_seconds: float = 0.0
    headers: Mapping[str, str] = field(default_factory=dict)


class Invalid(ValueError):
    """The request does not fit the simulated API (400); the message says why."""


def derived_id(*parts: Any) -> str:
    """A UUID derived from ``parts`` (name-based, SHA-1): the same parts, the same id."""
    return str(uuid.uuid5(_NAMESPACE, orjson.dumps(parts, option=orjson.OPT_SORT_KEYS).decode()))


def _error(status: int, code: str, message: str) -> tuple[int, Any]:
    return status, {"code": code, "title": _TITLES[status], "message": message}


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}

#: The base paths whose ``GET`` needs no credential: Midaz's, whose configurations authenticate with OIDC
#: client credentials, for which a connectivity test requests no token (its stages send nothing).
PUBLIC_ROOTS = ("midaz/onboarding", "midaz/transaction")


class Sandbox:
    """Every simulated provider: :meth:`answer` checks the credential and the mode, then answers.

    ``timeout_hold_seconds``: how long a ``timeout`` failure holds its answer.
    """

    def __init__(self, timeout_hold_seconds: float, api_key: str = SANDBOX_API_KEY) -> None:
        self._timeout_hold = timeout_hold_seconds
        self._api_key = api_key.encode()
        self._attempts = Attempts()
        self.validations: OrderedDict[str, dict[str, Any]] = OrderedDict()

    def answer(self, request: SandboxRequest) -> SandboxAnswer:
        """The answer to ``request``."""
        credential = (request.credential or "").encode()
        public = request.operation == "root" and request.params.get("provider") in PUBLIC_ROOTS
        if not public and not hmac.compare_digest(credential, self._api_key):
            status, body = _error(
                401, "SANDBOX_UNAUTHORIZED", "missing or wrong X-API-Key (the sandbox's key: docs/sandbox.md)"
            )
            return SandboxAnswer(status, body)
        if _too_deep(request.body, MAX_DEPTH):
            return SandboxAnswer(
                *_error(400, "SANDBOX_INVALID_REQUEST", f"body nested deeper than {MAX_DEPTH}")
            )
        try:
            mode, body = split_mode(request.body, request.query)
        except ModeError as exc:
            return SandboxAnswer(*_error(400, "SANDBOX_BAD_MODE", str(exc)))
        delay = mode.delay_ms / 1000
        if mode.fail is not None:
            attempt = self._attempts.next(_call_key(request, body))
            if mode.times is None or attempt <= mode.times:
                return _failure(mode.fail, attempt, delay, self._timeout_hold)
        handler = OPERATIONS[request.operation]
        try:
            status, answer = handler(self, request, body)
        except Invalid as exc:
            status, answer = _error(400, "SANDBOX_INVALID_REQUEST", str(exc))
        return SandboxAnswer(status, answer, delay)

    # --- tracer's memory ----------------------------------------------------------------------
    def remember(self, validation: dict[str, Any]) -> None:
        """Keep ``validation`` for the list (a repeated one moves to the end)."""
        self.validations.pop(validation["validationId"], None)
        self.validations[validation["validationId"]] = validation
        while len(self.validations) > MAX_VALIDATIONS:
            self.validations.popitem(last=False)


def _too_deep(value: Any, budget: int) -> bool:
    if budget < 0:
        return True
    if isinstance(value, dict):
        return any(_too_deep(v, budget - 1) for v in value.values())
    if isinstance(value, list):
        return any(_too_deep(v, budget - 1) for v in value)
    return False


def _call_key(request: SandboxRequest, body: Any) -> str:
    if request.idempotency_key:
        return f"{request.operation}|key|{request.idempotency_key}"
    return derived_id(request.operation, dict(request.params), dict(request.query), body)


def _failure(fail: str, attempt: int, delay: float, hold: float) -> SandboxAnswer:
    status = FAILURES[fail]
    message = f"simulated failure {fail} (attempt {attempt})"
    _, body = _error(status, "SANDBOX_SIMULATED_FAILURE", message)
    if fail == "timeout":
        return SandboxAnswer(status, body, delay + hold)
    headers = {"Retry-After": "1"} if status == 429 else {}
    return SandboxAnswer(status, body, delay, headers)


# --- request checks ---------------------------------------------------------------------------
def _object(body: Any, where: str = "body") -> dict[str, Any]:
    if not isinstance(body, dict):
        raise Invalid(f"{where} must be a JSON object")
    return body


def _text(data: Mapping[str, Any], name: str, where: str = "") -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{where}{name} is required (a non-empty string)")
    return value


def _decimal_text(data: Mapping[str, Any], name: str, where: str = "") -> Decimal:
    value = _text(data, name, where)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise Invalid(f'{where}{name} must be a decimal string, e.g. "1000.00"') from None
    if not number.is_finite() or number < 0:
        raise Invalid(f"{where}{name} must be a non-negative decimal string")
    return number


def _number(data: Mapping[str, Any], name: str) -> Decimal:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise Invalid(f"{name} is required (a number)")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise Invalid(f"{name} must be a number") from None
    if not number.is_finite():
        raise Invalid(f"{name} must be a number")
    return number


# --- KYC and AML (reference 9.2) --------------------------------------------------------------
def kyc_validate(_sandbox: Sandbox, _request: SandboxRequest, body: Any) -> tuple[int, Any]:
    """A document starting with "1" is approved with a low risk score; any other goes to review."""
    document = _text(_object(body), "document")
    if document.startswith("1"):
        return 200, {"customerId": "CUST-001", "riskScore": 25, "status": "approved"}
    return 200, {"customerId": "CUST-999", "riskScore": 85, "status": "review"}


def aml_check(_sandbox: Sandbox, _request: SandboxRequest, body: Any) -> tuple[int, Any]:
    """``cleared`` up to :data:`AML_REVIEW_ABOVE`, ``review`` above; the reference derives from the input."""
    data = _object(body)
    customer = _text(data, "customerId")
    amount = _number(data, "transactionAmount")
    digest = derived_id("aml", customer, str(amount)).replace("-", "")[:8].upper()
    status = "review" if amount > AML_REVIEW_ABOVE else "cleared"
    return 200, {"amlStatus": status, "referenceId": f"AML-REF-{digest}"}


# --- tracer -----------------------------------------------------------------------------------
def tracer_validate(sandbox: Sandbox, _request: SandboxRequest, body: Any) -> tuple[int, Any]:
    """DENY for an account not active or an amount above :data:`DENY_ABOVE`, REVIEW above
    :data:`REVIEW_ABOVE`, ALLOW otherwise."""
    data = _object(body)
    request_id = _text(data, "requestId")
    kind = _text(data, "transactionType")
    if kind not in TRANSACTION_TYPES:
        raise Invalid(f"transactionType must be one of {', '.join(TRANSACTION_TYPES)}")
    amount = _decimal_text(data, "amount")
    currency = _text(data, "currency")
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise Invalid("currency must be an ISO 4217 code, e.g. BRL")
    timestamp = _text(data, "transactionTimestamp")
    account = _object(data.get("account"), "account")
    account_id = _text(account, "accountId", "account.")
    account_status = account.get("status", "active")
    if account_status != "active":
        decision, rule = "DENY", f"account is {account_status}"
    elif amount > DENY_ABOVE:
        decision, rule = "DENY", f"amount above {DENY_ABOVE}"
    elif amount > REVIEW_ABOVE:
        decision, rule = "REVIEW", f"amount above {REVIEW_ABOVE}"
    else:
        decision, rule = "ALLOW", f"amount up to {REVIEW_ABOVE}"
    validation = {
        "validationId": derived_id("tracer", data),
        "requestId": request_id,
        "decision": decision,
        "reason": rule,
        "transactionType": kind,
        "amount": data["amount"],
        "currency": currency,
        "accountId": account_id,
        "transactionTimestamp": timestamp,
        "createdAt": timestamp,
    }
    sandbox.remember(validation)
    return 201, validation


def tracer_list(sandbox: Sandbox, request: SandboxRequest, _body: Any) -> tuple[int, Any]:
    """The validations made, oldest first, filtered by ``decision``, ``transactionType``, ``accountId``;
    ``limit`` (1..100, 10) per page, ``cursor`` the ``nextCursor`` of the page before."""
    query = request.query
    try:
        limit = int(query.get("limit", "10"))
    except ValueError:
        raise Invalid("limit must be a whole number in 1..100") from None
    if not 1 <= limit <= 100:
        raise Invalid("limit must be a whole number in 1..100")
    filters = {k: query[k] for k in ("decision", "transactionType", "accountId") if query.get(k)}
    items = [v for v in sandbox.validations.values() if all(v[k] == want for k, want in filters.items())]
    cursor = query.get("cursor")
    if cursor:
        ids = [v["validationId"] for v in items]
        if cursor not in ids:
            raise Invalid("cursor is not one this list gave")
        items = items[ids.index(cursor) + 1 :]
    page = items[:limit]
    more = len(items) > limit
    return 200, {
        "items": page,
        "limit": limit,
        "hasMore": more,
        "nextCursor": page[-1]["validationId"] if more else None,
    }


# --- midaz ------------------------------------------------------------------------------------
def _aliases(entries: Any, where: str) -> list[str]:
    if not isinstance(entries, list) or not entries:
        raise Invalid(f"{where} must be a non-empty list")
    aliases = []
    for i, entry in enumerate(entries):
        aliases.append(_text(_object(entry, f"{where}[{i}]"), "accountAlias", f"{where}[{i}]."))
    return aliases


def midaz_create_transaction(_sandbox: Sandbox, request: SandboxRequest, body: Any) -> tuple[int, Any]:
    """A transaction from ``send``: approved at once (``pending: true`` leaves it pending)."""
    data = _object(body)
    send = _object(data.get("send"), "send")
    asset = _text(send, "asset", "send.")
    _decimal_text(send, "value", "send.")
    sources = _aliases(_object(send.get("source"), "send.source").get("from"), "send.source.from")
    targets = _aliases(_object(send.get("distribute"), "send.distribute").get("to"), "send.distribute.to")
    org, ledger = request.params["org"], request.params["ledger"]
    return 201, {
        "id": derived_id("midaz-transaction", org, ledger, data),
        "organizationId": org,
        "ledgerId": ledger,
        "description": data.get("description", ""),
        "code": data.get("code"),
        "status": {"code": "PENDING" if data.get("pending") is True else "APPROVED"},
        "assetCode": asset,
        "amount": send["value"],
        "source": sources,
        "destination": targets,
        "chartOfAccountsGroupName": data.get("chartOfAccountsGroupName"),
        "metadata": data.get("metadata"),
    }


_ACCOUNT_FIELDS = ("parentAccountId", "portfolioId", "segmentId", "entityId", "metadata")


def midaz_create_account(_sandbox: Sandbox, request: SandboxRequest, body: Any) -> tuple[int, Any]:
    """An account from ``assetCode`` and ``type`` (required), the other fields echoed."""
    data = _object(body)
    asset = _text(data, "assetCode")
    kind = _text(data, "type")
    org, ledger = request.params["org"], request.params["ledger"]
    account_id = derived_id("midaz-account", org, ledger, data)
    return 201, {
        "id": account_id,
        "organizationId": org,
        "ledgerId": ledger,
        "name": data.get("name") or f"Sandbox account {account_id[:8]}",
        "alias": data.get("alias") or f"@sandbox-{account_id[:8]}",
        "assetCode": asset,
        "type": kind,
        "status": data.get("status") or {"code": "ACTIVE"},
        **{name: data.get(name) for name in _ACCOUNT_FIELDS},
    }


def midaz_get_account(_sandbox: Sandbox, request: SandboxRequest, _body: Any) -> tuple[int, Any]:
    """Any account id is an active BRL deposit account, except :data:`UNKNOWN_ACCOUNT` (404)."""
    account_id = request.params["accountId"]
    if account_id == UNKNOWN_ACCOUNT:
        return _error(404, "SANDBOX_ACCOUNT_NOT_FOUND", f"account {account_id} not found")
    return 200, {
        "id": account_id,
        "organizationId": request.params["org"],
        "ledgerId": request.params["ledger"],
        "name": f"Sandbox account {account_id[:8]}",
        "alias": f"@sandbox-{account_id[:8]}",
        "assetCode": "BRL",
        "type": "deposit",
        "status": {"code": "ACTIVE"},
    }


def midaz_get_balance(_sandbox: Sandbox, request: SandboxRequest, _body: Any) -> tuple[int, Any]:
    """One default balance of 10000.00 BRL available for any account, except :data:`UNKNOWN_ACCOUNT`."""
    account_id = request.params["accountId"]
    if account_id == UNKNOWN_ACCOUNT:
        return _error(404, "SANDBOX_ACCOUNT_NOT_FOUND", f"account {account_id} not found")
    balance = {
        "id": derived_id("midaz-balance", account_id),
        "organizationId": request.params["org"],
        "ledgerId": request.params["ledger"],
        "accountId": account_id,
        "alias": f"@sandbox-{account_id[:8]}",
        "key": "default",
        "assetCode": "BRL",
        "available": "10000.00",
        "onHold": "0.00",
        "allowSending": True,
        "allowReceiving": True,
    }
    return 200, {"items": [balance], "limit": 10, "nextCursor": None}


def provider_root(_sandbox: Sandbox, request: SandboxRequest, _body: Any) -> tuple[int, Any]:
    """``GET`` on a provider's base URL (what connectivity tests call): it is there."""
    return 200, {"provider": request.params["provider"], "sandbox": True, "status": "available"}


Handler = Callable[[Sandbox, SandboxRequest, Any], tuple[int, Any]]
OPERATIONS: dict[str, Handler] = {
    "kyc.validate": kyc_validate,
    "aml.check": aml_check,
    "tracer.validate-transaction": tracer_validate,
    "tracer.list-validations": tracer_list,
    "midaz.create-transaction": midaz_create_transaction,
    "midaz.create-account": midaz_create_account,
    "midaz.get-account": midaz_get_account,
    "midaz.get-account-balance": midaz_get_balance,
    "root": provider_root,
}
