"""Webhook triggers: which trigger nodes route ``/v1/webhooks/{path}``, their paths, and their tokens.

A trigger node is webhook-triggered when its ``data.triggerId`` or ``data.triggerType`` is ``"webhook"``
and it gives a ``path``. Its data then follows the catalog's ``webhook`` trigger schema: ``path``
(required), ``method`` (required, GET|POST|PUT|PATCH|DELETE) and ``verify_token`` (optional), no other
properties; ``triggerId``, ``triggerType`` and ``name`` are the console's and are allowed beside them.
A webhook trigger without a ``path`` (the docs' create-workflow example) stays what it was in the
original: a trigger that only ``POST /v1/workflows/{id}/executions`` starts.

Paths are normalised once, the same way when saved and when called: one leading slash, no trailing
slash, no empty, ``.`` or ``..`` segment, no query or fragment, only URL-safe characters, at most
:data:`MAX_PATH` characters; letters keep their case (``/Hook`` and ``/hook`` are two routes).

The ``verify_token`` itself is never stored: a save replaces it by a salted SHA-256
(``TOKEN_HASH_KEY`` of :mod:`flowker.dsl.model`), and every answer shows the mask ``********`` where a
token is set. A client that sends
the mask back (a PUT of what it read) keeps the token the node has.

Pure: the standard library and the workflow model only.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowker.codes import INVALID_TRIGGER_CONFIG, WEBHOOK_PATH_TAKEN
from flowker.dsl.model import MASK, TOKEN_HASH_KEY, Node, NodeType, WorkflowDefinition
from flowker.errors import BadRequest, Conflict

WEBHOOK = "webhook"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_PATH = 255
MAX_TOKEN = 256
_SCHEMA_KEYS = frozenset({"path", "method", "verify_token"})
_CONSOLE_KEYS = frozenset({"triggerId", "triggerType", "name", "label", "description"})
_SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@-]+$")


@dataclass(frozen=True)
class WebhookRoute:
    """One route of the table: METHOD+path of an active workflow, and its token's hash if it has one."""

    method: str
    path: str
    workflow_id: str
    token_hash: str | None = None


def invalid(message: str) -> BadRequest:
    return BadRequest(message, code=INVALID_TRIGGER_CONFIG)


def normalise_path(raw: str) -> str:
    """``raw`` as a route path (see the module); :class:`ValueError` saying why when it cannot be one."""
    if "?" in raw or "#" in raw:
        raise ValueError("a webhook path has no query or fragment")
    text = raw.strip()
    if text.endswith("/"):
        text = text[:-1]
    segments = text.removeprefix("/").split("/")
    if segments == [""]:
        raise ValueError("a webhook path needs at least one segment")
    for segment in segments:
        if segment in ("", ".", ".."):
            raise ValueError("a webhook path has no empty, '.' or '..' segment")
        if not _SEGMENT.match(segment):
            raise ValueError(
                "a webhook path segment holds letters, digits and - . _ ~ ! $ & ' ( ) * + , ; = : @ only"
            )
    path = "/" + "/".join(segments)
    if len(path) > MAX_PATH:
        raise ValueError(f"a webhook path is at most {MAX_PATH} characters")
    return path


def is_webhook(node: Node) -> bool:
    """Whether the node is a trigger that routes a webhook path (see the module)."""
    data = node.settings
    named = WEBHOOK in (data.get("triggerId"), data.get("triggerType"))
    return node.type == NodeType.TRIGGER and named and data.get("path") is not None


def check_trigger_data(where: str, node: Node) -> None:
    """Raise 400 FLK-0211 when a webhook trigger's data does not follow the ``webhook`` schema."""
    if not is_webhook(node):
        return
    data = node.settings
    unknown = sorted(set(data) - _SCHEMA_KEYS - _CONSOLE_KEYS - {TOKEN_HASH_KEY})
    if unknown:
        raise invalid(f"{where}: a webhook trigger has no property {unknown[0]!r}")
    path = data.get("path")
    if not isinstance(path, str):
        raise invalid(f"{where}.path must be a string")
    try:
        normalise_path(path)
    except ValueError as exc:
        raise invalid(f"{where}.path: {exc}") from None
    method = data.get("method")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise invalid(f"{where}.method is required, one of {', '.join(METHODS)}")
    token = data.get("verify_token")
    if token is not None and (
        not isinstance(token, str) or not token or len(token) > MAX_TOKEN or not token.isprintable()
    ):
        raise invalid(f"{where}.verify_token must be 1..{MAX_TOKEN} printable characters")


def hash_token(token: str, salt: bytes | None = None) -> str:
    """The stored form of a verify token: ``sha256$<salt>$<SHA-256 of salt and token>`` (hex)."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.sha256(salt + token.encode("utf-8", "surrogateescape")).hexdigest()
    return f"sha256${salt.hex()}${digest}"


def token_matches(stored: str, presented: bytes) -> bool:
    """Whether ``presented`` is the token ``stored`` hashes; the hashes are compared in constant time."""
    try:
        _, salt, digest = stored.split("$")
        expected = bytes.fromhex(digest)
        actual = hashlib.sha256(bytes.fromhex(salt) + presented).digest()
    except ValueError:
        return False
    return hmac.compare_digest(expected, actual)


def seal_tokens(definition: WorkflowDefinition, current: WorkflowDefinition | None = None) -> None:
    """Replace every webhook trigger's ``verify_token`` by its hash, in place.

    The mask keeps the hash the node of the same id has in ``current`` (what the client read);
    without one it is 400 FLK-0211. A client cannot set the hash itself: what it sends is dropped.
    """
    kept = {node.id: node.settings.get(TOKEN_HASH_KEY) for node in (current.nodes if current else [])}
    for index, node in enumerate(definition.nodes):
        if node.data is None or node.type != NodeType.TRIGGER:
            continue
        data = dict(node.data)
        data.pop(TOKEN_HASH_KEY, None)
        token = data.pop("verify_token", None)
        if token == MASK:
            if not isinstance(kept.get(node.id), str):
                raise invalid(
                    f"nodes[{index}].data.verify_token: {MASK} stands for the token this node has, "
                    "and it has none; send the token itself"
                )
            data[TOKEN_HASH_KEY] = kept[node.id]
        elif isinstance(token, str):
            data[TOKEN_HASH_KEY] = hash_token(token)
        node.data = data


def masked_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Node data as answers show it: a stored token hash becomes ``verify_token: ********``."""
    shown = {key: value for key, value in data.items() if key != TOKEN_HASH_KEY}
    if TOKEN_HASH_KEY in data:
        shown["verify_token"] = MASK
    return shown


def routes_of(definition: WorkflowDefinition, workflow_id: str) -> list[WebhookRoute]:
    """The webhook routes of the workflow's trigger nodes (saved data: already checked and sealed)."""
    found: list[WebhookRoute] = []
    for node in definition.nodes:
        if not is_webhook(node):
            continue
        data = node.settings
        hashed = data.get(TOKEN_HASH_KEY)
        found.append(
            WebhookRoute(
                method=str(data["method"]).upper(),
                path=normalise_path(str(data["path"])),
                workflow_id=workflow_id,
                token_hash=hashed if isinstance(hashed, str) else None,
            )
        )
    return found


def path_taken(route: WebhookRoute, owner: str | None) -> Conflict:
    """409 FLK-0360: ``route`` is already the webhook of the active workflow named ``owner``."""
    which = f"active workflow {owner!r}" if owner else "another active workflow"
    return Conflict(
        f"{route.method} {route.path} is the webhook of {which}; deactivate it first",
        code=WEBHOOK_PATH_TAKEN,
    )
