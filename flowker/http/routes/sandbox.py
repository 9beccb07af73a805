"""``/sandbox/…``: the simulated providers of ``flowker serve --sandbox`` (``docs/sandbox.md``).

A thin shell over :class:`flowker.domain.sandbox_answers.Sandbox`: read the request, ask for the answer,
wait as long as it says, send it. The routes exist only in sandbox mode (:func:`flowker.http.app.create_app`
adds them then, and never in production mode); they need no Flowker API key, since Flowker calls them as
it calls any provider, but each checks the credential the sandbox configurations send. They are not part
of Flowker's API and not in its OpenAPI document.
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler

from flowker.domain import sandbox_oidc
from flowker.domain.sandbox_answers import Sandbox, SandboxAnswer, SandboxRequest
from flowker.tunables import SANDBOX_TIMEOUT_HOLD_SECONDS

PREFIX = "/sandbox"
SANDBOX = web.AppKey("sandbox", Sandbox)
_MIDAZ_LEDGER = "/v1/organizations/{org}/ledgers/{ledger}"
_BALANCES = f"/midaz/transaction{_MIDAZ_LEDGER}/accounts/{{accountId}}/balances"

#: (method, path below /sandbox, operation)
ROUTES = (
    ("POST", "/kyc/validate", "kyc.validate"),
    ("POST", "/aml/check", "aml.check"),
    ("POST", "/tracer/v1/validations", "tracer.validate-transaction"),
    ("GET", "/tracer/v1/validations", "tracer.list-validations"),
    ("POST", f"/midaz/transaction{_MIDAZ_LEDGER}/transactions/json", "midaz.create-transaction"),
    ("POST", f"/midaz/onboarding{_MIDAZ_LEDGER}/accounts", "midaz.create-account"),
    ("GET", f"/midaz/onboarding{_MIDAZ_LEDGER}/accounts/{{accountId}}", "midaz.get-account"),
    ("GET", _BALANCES, "midaz.get-account-balance"),
)
#: The providers' base paths, where a GET answers that the provider is there (connectivity tests).
ROOTS = ("kyc", "aml", "tracer", "midaz/onboarding", "midaz/transaction")


def add_sandbox_routes(app: web.Application, sandbox: Sandbox | None = None) -> None:
    """Serve the simulated providers on ``app`` under ``/sandbox``."""
    app[SANDBOX] = sandbox if sandbox is not None else Sandbox(SANDBOX_TIMEOUT_HOLD_SECONDS)
    for method, path, operation in ROUTES:
        app.router.add_route(method, PREFIX + path, _handler(operation))
    for root in ROOTS:
        app.router.add_route("GET", f"{PREFIX}/{root}", _handler("root", provider=root))
    app.router.add_route("GET", f"{PREFIX}/oidc/.well-known/openid-configuration", _discovery)
    app.router.add_route("POST", f"{PREFIX}/oidc/token", _token)


async def _discovery(request: web.Request) -> web.Response:
    # The issuer is where the caller reached it: the sandbox serves no one but its own origin's callers.
    return _send(sandbox_oidc.discovery(f"{request.url.origin()}{PREFIX}/oidc"))


async def _token(request: web.Request) -> web.Response:
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    return _send(sandbox_oidc.token(fields, request.headers.get("Authorization")))


def _handler(operation: str, provider: str | None = None) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        if raw.strip():
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return _send(SandboxAnswer(400, {"code": "SANDBOX_BAD_JSON", "message": "malformed JSON"}))
        else:
            body = None
        params = dict(request.match_info)
        if provider is not None:
            params["provider"] = provider
        answer = request.app[SANDBOX].answer(
            SandboxRequest(
                operation=operation,
                params=params,
                query=dict(request.query),
                body=body,
                credential=_credential(request),
                idempotency_key=request.headers.get("Idempotency-Key"),
            )
        )
        if answer.delay_seconds > 0:
            await asyncio.sleep(answer.delay_seconds)
        return _send(answer)

    return handle


def _credential(request: web.Request) -> str | None:
    key = request.headers.get("X-API-Key")
    if key is not None:
        return key
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _send(answer: SandboxAnswer) -> web.Response:
    return web.Response(
        body=orjson.dumps(answer.body),
        status=answer.status,
        content_type="application/json",
        headers=dict(answer.headers),
    )
