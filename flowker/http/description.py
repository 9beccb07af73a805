"""The prose of the OpenAPI document: what the API is and the rules every operation shares."""

from __future__ import annotations

from flowker import codes
from flowker.domain import audit
from flowker.domain import authentication as auth
from flowker.http.render import MAX_DEPTH
from flowker.usecases import audit as audit_trail
from flowker.usecases.pagination import DEFAULT_LIMIT, MAX_LIMIT

DESCRIPTION = f"""\
Flowker orchestrates the checks that run before money moves (KYC, AML, fraud, payments): workflows
are graphs of nodes that call external services through **executor configurations**.

## Authentication

Every `/v1` route requires the header `X-API-Key` with one of the configured keys (several may be
valid at once, so that a key can be rotated). A missing or wrong key is answered
`401 {{"code": "{codes.UNAUTHORIZED}", "title": "Unauthorized", "message": "API Key missing or invalid"}}`.
A read-only key may only GET: any other method is answered `403 {codes.METHOD_OR_ORIGIN_NOT_ALLOWED}`.
Repeated failures from one address are slowed down. `/health`, `/readyz` (and their aliases
`/health/live`, `/health/ready`), `/version`, `/openapi.json` and these docs (`/docs`) are public.

## Errors

Every error, whatever its status, has the same JSON body (`ErrorResponse`):
`{{"code": "{codes.WORKFLOW_NOT_FOUND}", "title": "Not Found", "message": "workflow … not found"}}`.
`code` is stable and machine-readable (`FLK-NNNN`, or `UNAUTHORIZED` / `INVALID_CURSOR`), `title` is
the HTTP reason phrase and `message` is for people. Each operation lists the codes it can return.
Besides those:

* an unknown path is `404 {codes.ROUTE_NOT_FOUND}`;
* a method a path does not support is `405 {codes.METHOD_OR_ORIGIN_NOT_ALLOWED}`;
* a body larger than the configured limit (1 MiB by default) is `413 {codes.BODY_TOO_LARGE}`;
* a CORS preflight from an origin that is not allowed is `403 {codes.METHOD_OR_ORIGIN_NOT_ALLOWED}`;
* `500 {codes.INTERNAL_ERROR}` means a bug: its message never carries details, the `X-Request-Id` finds it in
  the log.

Unknown fields in request bodies are ignored. A field of the wrong JSON type is
`400 {codes.WRONG_FIELD_TYPE}`, with the field's path in the message; a body nested deeper than
{MAX_DEPTH} levels is `400 {codes.BODY_TOO_DEEP}`.

## Request ids

Every response carries `X-Request-Id`: the request's own value when it is 1 to 128 characters of
`A-Z a-z 0-9 . _ : -`, otherwise a new UUID.

## Pagination

Lists are cursor-paginated: `{{"items": [...], "nextCursor": "...", "hasMore": true}}`. Pass
`nextCursor` back as `cursor`, with the same `sortBy` and `sortOrder`, to get the next page;
`nextCursor` is `""` on the last page. `limit` is 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}; a larger value is
read as {MAX_LIMIT}, anything below 1 or not a whole number is `400 {codes.INVALID_LIMIT}`); items are
sorted by `sortBy` (`createdAt` by default; `startedAt` for executions) then id, `DESC` by default. A
cursor reused with another sort, or not issued by this API, is `400 INVALID_CURSOR`.

The audit trail pages by sequence number instead: it has no `sortBy`, `limit` defaults to
{audit_trail.DEFAULT_LIMIT}, `nextCursor` is the last event's `sequence` in decimal, and a cursor that is not
a decimal number is `400 {codes.INVALID_AUDIT_CURSOR}`.

## Executions

`POST /v1/workflows/{{workflowId}}/executions` runs an **active** workflow on `inputData`. The header
`Idempotency-Key` is required: the same key with the same workflow and input returns the execution it
already started (a retry is safe), with another workflow or input it is `409 {codes.IDEMPOTENCY_KEY_REUSED}`.
The answer is `201` as soon as the execution is durably recorded (`pending`); it runs in the
background, so poll `GET /v1/executions/{{id}}` until its status is `completed`, `failed` or
`cancelled`, then read `GET /v1/executions/{{id}}/results`. An execution runs the definition the
workflow had when it started, whatever happens to the workflow meanwhile.

## Audit trail

Every change to a workflow or an executor configuration, and every execution's start, provider
calls and end, is appended to one hash chain. Each event has a gapless `sequence`, the `previousHash`
of the event before it, and a `hash`: the lower-case hex SHA-256 of `previousHash` (the string
`{audit.GENESIS}` for the first event), then `|`, then the canonical JSON of the event without its two
hashes: RFC 8785 for `hashScheme` `sha256-jcs` (every event chained now), keys sorted and no spaces for
older events without the field. `GET /v1/audit-events/{{id}}/verify` recomputes them all and holds the
log to its signed checkpoints, so an edited, inserted, deleted or re-chained event, and a truncated log,
are detected; `GET /v1/audit/export` gives the log to verify offline with `flowker audit verify`.
Events name who caused them by the API key's id (`key-` and 12 hex digits of its SHA-256), never the
key.

## Secrets

Secrets of an executor configuration's `authentication.config` (keys, tokens, passwords, client
secrets and credential-like `extra_params`) are write-only: they are encrypted before they are
stored and every response shows them as `{auth.MASK}`. Sending `{auth.MASK}` back in a PATCH keeps
the stored secret, so a configuration can be read, edited and written back.
"""
