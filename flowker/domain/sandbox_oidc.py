"""The sandbox's OIDC issuer: discovery and the client-credentials grant, for providers whose
configuration authenticates with ``oidc_client_credentials`` (midaz). Pure answers, as
:mod:`flowker.domain.sandbox_answers`.

The client is ``sandbox`` with the secret ``sandbox-key`` (HTTP Basic or in the form); the token it gets
is the sandbox's key itself, which every simulated provider accepts as ``Authorization: Bearer``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping

from flowker.domain.sandbox_answers import SANDBOX_API_KEY, SandboxAnswer

SANDBOX_CLIENT_ID = "sandbox"
SANDBOX_CLIENT_SECRET = SANDBOX_API_KEY
TOKEN_LIFETIME_SECONDS = 3600


def discovery(issuer_url: str) -> SandboxAnswer:
    """The discovery document of the issuer at ``issuer_url``."""
    return SandboxAnswer(
        200,
        {
            "issuer": issuer_url,
            "token_endpoint": f"{issuer_url}/token",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        },
    )


def token(form: Mapping[str, str], authorization: str | None) -> SandboxAnswer:
    """A token for the sandbox client (RFC 6749 §4.4), or the RFC's error answer."""
    if form.get("grant_type") != "client_credentials":
        return SandboxAnswer(400, {"error": "unsupported_grant_type"})
    client = _basic(authorization) or (form.get("client_id", ""), form.get("client_secret", ""))
    if not (
        hmac.compare_digest(client[0].encode(), SANDBOX_CLIENT_ID.encode())
        and hmac.compare_digest(client[1].encode(), SANDBOX_CLIENT_SECRET.encode())
    ):
        return SandboxAnswer(401, {"error": "invalid_client"}, headers={"WWW-Authenticate": "Basic"})
    body = {"access_token": SANDBOX_API_KEY, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS}
    if form.get("scope"):
        body["scope"] = form["scope"]
    return SandboxAnswer(200, body, headers={"Cache-Control": "no-store"})


def _basic(authorization: str | None) -> tuple[str, str] | None:
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password
