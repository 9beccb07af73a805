"""What ``flowker serve --sandbox`` creates, given the sandbox's base URL: pure lists, no I/O.

Each entry is the body a client would send to create it, pointing at the simulated providers of
:mod:`flowker.domain.sandbox_answers` with the sandbox's credential. They are created once, by name
(:mod:`flowker.usecases.sandbox`); a user's later edits stand.
"""

from __future__ import annotations

from typing import Any

from flowker.domain.sandbox_answers import SANDBOX_API_KEY
from flowker.domain.sandbox_oidc import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

#: The endpoint timeout (seconds) of the configurations: shorter than a ``timeout`` failure holds its answer.
SANDBOX_ENDPOINT_TIMEOUT_SECONDS = 5
#: The organization and ledger of the sandbox midaz (any ids work; these are the configured ones).
SANDBOX_ORGANIZATION_ID = "0190a1b2-0000-7000-8000-000000000001"
SANDBOX_LEDGER_ID = "0190a1b2-0000-7000-8000-000000000002"


def sandbox_base_url(scheme: str, host: str, port: int) -> str:
    """The sandbox's base URL on the serving origin ``host`` (as :func:`flowker.settings.loopback_for`
    gives it) and ``port``."""
    return f"{scheme}://[{host}]:{port}/sandbox" if ":" in host else f"{scheme}://{host}:{port}/sandbox"


def _api_key() -> dict[str, Any]:
    return {"type": "api_key", "config": {"key": SANDBOX_API_KEY, "header_name": "X-API-Key"}}


def sandbox_executor_configs(base_url: str) -> list[dict[str, Any]]:
    """The executor configurations of the README's first workflow: ``sandbox-kyc`` and ``sandbox-aml``."""
    timeout = SANDBOX_ENDPOINT_TIMEOUT_SECONDS
    return [
        {
            "name": "sandbox-kyc",
            "description": "Simulated KYC provider of flowker serve --sandbox (docs/sandbox.md)",
            "baseUrl": f"{base_url}/kyc",
            "endpoints": [{"name": "validate", "path": "/validate", "method": "POST", "timeout": timeout}],
            "authentication": _api_key(),
        },
        {
            "name": "sandbox-aml",
            "description": "Simulated AML provider of flowker serve --sandbox (docs/sandbox.md)",
            "baseUrl": f"{base_url}/aml",
            "endpoints": [{"name": "check", "path": "/check", "method": "POST", "timeout": timeout}],
            "authentication": _api_key(),
        },
    ]


def sandbox_provider_configs(base_url: str) -> list[dict[str, Any]]:
    """The provider configurations ``sandbox-<providerId>`` of the catalog's providers (reference §4.2),
    as ``POST /v1/provider-configurations`` bodies: one for each provider of the catalog (``http`` calls
    the simulated KYC: a node with ``path`` ``/validate``)."""
    return [
        {
            "name": "sandbox-tracer",
            "description": "Simulated Tracer of flowker serve --sandbox (docs/sandbox.md)",
            "providerId": "tracer",
            "config": {"base_url": f"{base_url}/tracer", "api_key": SANDBOX_API_KEY},
        },
        {
            "name": "sandbox-midaz",
            "description": "Simulated Midaz of flowker serve --sandbox (docs/sandbox.md)",
            "providerId": "midaz",
            "config": {
                "onboarding_base_url": f"{base_url}/midaz/onboarding",
                "transaction_base_url": f"{base_url}/midaz/transaction",
                "organization_id": SANDBOX_ORGANIZATION_ID,
                "ledger_id": SANDBOX_LEDGER_ID,
                "auth": {
                    "issuer_url": f"{base_url}/oidc",
                    "client_id": SANDBOX_CLIENT_ID,
                    "client_secret": SANDBOX_CLIENT_SECRET,
                    "scopes": [],
                },
            },
        },
        {
            "name": "sandbox-http",
            "description": "Simulated KYC of flowker serve --sandbox, as an HTTP provider (docs/sandbox.md)",
            "providerId": "http",
            "config": {
                "base_url": f"{base_url}/kyc",
                "auth_type": "api_key",
                "api_key": SANDBOX_API_KEY,
                "api_key_header": "X-API-Key",
            },
        },
    ]
