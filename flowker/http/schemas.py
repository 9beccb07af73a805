"""The request and response bodies of the API as pydantic models, for the OpenAPI document.

Request models here are the contract a client reads: the rules that :mod:`flowker.dsl.validation`,
:mod:`flowker.domain.executor_config` and :mod:`flowker.domain.authentication` enforce, with their
limits. The models that parse requests (:mod:`flowker.dsl.model`, ``ExecutorConfigInput``) are loose on
purpose, so that a broken rule is answered with its own ``FLK`` code; a test keeps their fields equal.

Handlers still write plain dicts (their bytes on the wire are the contract); the response models
describe those dicts, and the conformance tests check every answer against the schemas generated from
them. An optional field of a response is omitted when absent, never ``null``, unless typed ``X | None``
without a default.
"""

from __future__ import annotations

import functools
import operator
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, RootModel, create_model
from pydantic.json_schema import SkipJsonSchema

from flowker import codes
from flowker.domain import audit, audit_verify
from flowker.domain import authentication as auth
from flowker.domain import breaker_state as bs
from flowker.domain import executor_config as ec
from flowker.domain import metadata as meta
from flowker.domain import provider_config as pc
from flowker.dsl import validation as dsl
from flowker.dsl.model import NodeType, WorkflowStatus
from flowker.dsl.run_state import ExecutionStatus, StepStatus

_TIMESTAMP_EXAMPLE = "2026-11-29T01:02:03.456789Z"
_ID_EXAMPLE = "0b6f3c1e-4a5d-4e8f-9c2a-7d1b3e5f6a90"
_HEX64 = "^[0-9a-f]{64}$"
STAGES = ("connectivity", "authentication", "end_to_end")
_TERMINAL = tuple(s.value for s in ExecutionStatus if s.is_terminal)


class Output(BaseModel):
    """A response body (see the module's docstring for optional fields).

    Handlers write their bodies through these models (``json_response(..., model=...)``); a field that
    a model does not declare is refused, so no answer carries what the document does not describe.
    """

    model_config = ConfigDict(extra="forbid")


class Timestamp(RootModel[str]):
    """RFC 3339, UTC, microsecond precision, fixed width (text order is time order)."""

    model_config = ConfigDict(json_schema_extra={"format": "date-time", "examples": [_TIMESTAMP_EXAMPLE]})


class ErrorResponse(Output):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(
        description="Stable: `FLK-NNNN`, `UNAUTHORIZED` or `INVALID_CURSOR`.",
        examples=[codes.WORKFLOW_NOT_FOUND],
    )
    title: str = Field(description="The HTTP reason phrase of the status.", examples=["Not Found"])
    message: str = Field(examples=[f"workflow {_ID_EXAMPLE} not found"])


class _Page(Output):
    nextCursor: str = Field(
        description='Send as `cursor` (same sort) for the next page; `""` on the last page.'
    )
    hasMore: bool


# --- request bodies -------------------------------------------------------------------------------

#: Absent, never ``null``: documented as the type alone.
NotNull = SkipJsonSchema[None]
Metadata = Annotated[
    dict[Annotated[str, Field(max_length=meta.MAX_KEY)], Any], Field(max_length=meta.MAX_ENTRIES)
]
_METADATA = f"Free-form; at most {meta.MAX_ENTRIES} entries, keys of at most {meta.MAX_KEY} chars."
_NODE_DATA = """\
Settings of the node, by type:

* `executor`: `executorConfigId` (id of an executor configuration) and `endpointName` (one of its
  endpoints), both required to activate; optional `inputMapping` / `outputMapping`, lists of
  `{source, target, required?, transformation?: {type, config}}` copying values between dot paths
  (`transforms` is refused); optional `retry`, the node's own retry policy, every field optional
  (checked on save): `maxAttempts` (1-10, default 5), `initialIntervalMs` (0-60000, default
  1000), `backoffCoefficient` (1-10, default 2), `maxIntervalMs` (0-3600000, default 30000),
  `retryOn` (statuses among 408, 425, 429, 500-599; default 429 and 5xx), `retryNonIdempotent`
  (repeat a POST or PATCH that may have reached the provider; default false);
* `conditional`: `condition`, an expression such as `kyc.result.riskScore < 50` (required to
  activate); its outgoing edges carry `sourceHandle` `"true"` or `"false"`;
* `action`: `actionType`; `set_output` requires an `output` object, the workflow's final output;
* `trigger`: free, unless `triggerId` or `triggerType` is `webhook` and a `path` is given: then
  `path` (the route under `/v1/webhooks`, normalised to one leading slash), `method` (GET, POST,
  PUT, PATCH or DELETE) and an optional `verify_token` (answered as `********`; sending `********`
  back keeps the token), no other properties besides `triggerId`, `triggerType`, `name`, `label`
  and `description`.
"""
NodeId = Annotated[str, Field(min_length=1, max_length=dsl.MAX_ID)]


class Position(BaseModel):
    """Canvas coordinates."""

    x: int | float = 0
    y: int | float = 0


class Node(BaseModel):
    """A step of the workflow; `position` only places it on a canvas."""

    id: NodeId = Field(
        description=(
            "Unique among the workflow's nodes; conditions and mappings read the node's output "
            "as `<id>.…`. Not `workflow` (the execution's input) or `$`, and without `.`, `[` "
            f"or `]`, which paths read as structure (400 {codes.MISREADABLE_NODE_ID})."
        )
    )
    type: NodeType
    name: str | None = Field(None, description="Display name.")
    position: Position = Field(default_factory=Position)
    data: dict[str, Any] | None = Field(None, description=_NODE_DATA)


class Edge(BaseModel):
    id: NodeId = Field(description="Unique among the workflow's edges.")
    source: NodeId = Field(description="Id of the node the edge leaves.")
    target: NodeId = Field(description="Id of the node the edge enters.")
    sourceHandle: Annotated[str, Field(max_length=dsl.MAX_EDGE_TEXT)] | None = Field(
        None, description="`true` or `false` on an edge leaving a conditional node (to activate)."
    )
    condition: Annotated[str, Field(max_length=dsl.MAX_CONDITION)] | None = Field(
        None, description="A condition expression; checked to parse when saved."
    )
    label: Annotated[str, Field(max_length=dsl.MAX_EDGE_TEXT)] | None = None


class WorkflowDefinition(BaseModel):
    """The body of create and replace. A draft may be incomplete (no nodes, no trigger); activation
    checks the whole graph."""

    name: str = Field(
        min_length=1,
        max_length=dsl.MAX_NAME,
        description=(
            f"Unique among workflows (409 {codes.WORKFLOW_NAME_TAKEN}); surrounding spaces are trimmed."
        ),
    )
    description: Annotated[str, Field(max_length=dsl.MAX_DESCRIPTION)] | None = None
    nodes: list[Node] = Field(default_factory=list, max_length=dsl.MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=dsl.MAX_EDGES)
    metadata: Metadata | None = Field(None, description=_METADATA)


class CloneWorkflowInput(BaseModel):
    name: str = Field(
        min_length=1,
        max_length=dsl.MAX_NAME,
        description=f"Name of the copy; must be unused (409 {codes.WORKFLOW_NAME_TAKEN}).",
    )


class EndpointInput(BaseModel):
    name: str = Field(min_length=1, max_length=ec.MAX_ENDPOINT_NAME)
    path: str = Field(
        min_length=1,
        max_length=ec.MAX_ENDPOINT_PATH,
        description="Relative to `baseUrl` (a URL is refused); a leading `/` is added.",
        examples=["/v1/checks"],
    )
    method: str = Field(
        description=f"One of {', '.join(ec.METHODS)}, case-insensitive; stored upper-case.",
        examples=["POST"],
    )
    timeout: Annotated[int, Field(ge=1, le=ec.MAX_TIMEOUT_SECONDS)] | None = Field(
        ec.DEFAULT_TIMEOUT_SECONDS, description="Seconds."
    )


# --- authentication, one model per type, from the domain's field table -------------------------------

_AUTH_TITLES = {
    "none": ("NoAuthentication", "No credentials are sent; `config` must be empty."),
    "api_key": (
        "ApiKeyAuthentication",
        "Sends `prefix` + `key` in the header `header_name` (default `X-API-Key`) or, with "
        "`location: query`, in the query parameter `query_param_name` (default `api_key`).",
    ),
    "bearer": ("BearerAuthentication", "Sends `Authorization: Bearer <token>`."),
    "basic": ("BasicAuthentication", "Sends `Authorization: Basic base64(username:password)`."),
    "oidc_client_credentials": (
        "OidcClientCredentialsAuthentication",
        "Gets an access token with the OAuth 2 client-credentials grant from `token_url`, or from the "
        "token endpoint that `issuer_url` discovers (one of the two is required).",
    ),
    "oidc_user": (
        "OidcUserAuthentication",
        "Gets an access token with the OAuth 2 password grant for `username` from `token_url`, or from "
        "the token endpoint that `issuer_url` discovers (one of the two is required).",
    ),
}
_FIELD_NOTES = {
    "token_endpoint_auth_method": "Default `client_secret_basic`.",
    "location": "Default `header`.",
    "scopes": "Sent space-separated.",
    "refresh_on": (
        "Provider statuses (4xx, distinct, 429 excluded) on which a call gets one token refresh and one "
        "retry. Default `[401]`; `[]` turns it off."
    ),
}
_SECRET_WORDS = ", ".join(f"`{w}`" for w in auth._SECRET_WORDS)


def _auth_field(name: str, spec: auth.FieldSpec) -> tuple[Any, Any]:
    """A field of a pydantic model for ``spec`` of the domain's table: ``(type, FieldInfo)``."""
    text = Field(max_length=auth.MAX_VALUE, min_length=1 if spec.required and spec.kind == "str" else None)
    kinds: dict[str, Any] = {
        "str": Annotated[str, text],
        "header": Annotated[str, Field(pattern=f"^{auth._TOKEN.pattern}$", max_length=auth.MAX_NAME)],
        "param": Annotated[str, Field(pattern=f"^{auth._PARAM.pattern}$", max_length=auth.MAX_NAME)],
        "url": Annotated[str, text, Field(json_schema_extra={"format": "uri"})],
        "choice": Literal[spec.choices],
        "strings": list[str],
        "params": dict[str, str],
        "cache": OidcTokenCache,
        "statuses": Annotated[
            list[Annotated[int, Field(ge=400, le=499)]], Field(max_length=auth.MAX_REFRESH_ON)
        ],
    }
    notes = {
        "url": ["An http or https URL."],
        "header": [
            "A header name; not one HTTP or Flowker sets itself ("
            + ", ".join(f"`{h}`" for h in sorted(auth.RESERVED_HEADERS))
            + ")."
        ],
        "params": [
            "Extra form parameters of the token request. Values of keys containing "
            f"{_SECRET_WORDS} are secrets: write-only, returned as `{auth.MASK}`."
        ],
    }.get(spec.kind, [])
    notes += [_FIELD_NOTES[name]] if name in _FIELD_NOTES else []
    extra = None
    if spec.secret:
        extra = {"format": "password"}
        notes.append(f"Secret: write-only, returned as `{auth.MASK}`; sending `{auth.MASK}` keeps it.")
    info = Field(... if spec.required else None, description=" ".join(notes) or None, json_schema_extra=extra)
    return (kinds[spec.kind], info) if spec.required else (kinds[spec.kind] | NotNull, info)


class OidcTokenCache(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool | NotNull = Field(None, description="Default `true`.")
    refresh_before_expiry_seconds: Annotated[int, Field(ge=0)] | NotNull = Field(
        None, description="Default `FLOWKER_TOKEN_REFRESH_MARGIN_SECONDS` (60)."
    )
    use_refresh_token: bool | NotNull = Field(None, description="Default `true`.")


def _authentication_model(kind: str, fields: dict[str, auth.FieldSpec]) -> type[BaseModel]:
    name, description = _AUTH_TITLES[kind]
    oidc = (
        {"anyOf": [{"required": ["issuer_url"]}, {"required": ["token_url"]}]}
        if kind.startswith("oidc_")
        else {}
    )
    config = create_model(
        f"{name}Config",
        __config__=ConfigDict(extra="forbid", json_schema_extra=oidc),
        **{field: _auth_field(field, spec) for field, spec in fields.items()},
    )
    return create_model(name, __doc__=description, type=(Literal[kind], ...), config=(config | NotNull, None))


#: One model per ``authentication.type``, as a union discriminated on ``type``.
_AUTHENTICATION: Any = functools.reduce(
    operator.or_, (_authentication_model(kind, fields) for kind, fields in auth.SCHEMAS.items())
)


class ExecutorAuthentication(RootModel[Annotated[_AUTHENTICATION, Field(discriminator="type")]]):
    model_config = ConfigDict(
        json_schema_extra={
            "description": (
                "How the executor authenticates to the service: `type` selects the `config` fields. Unknown "
                f"`config` fields are refused (400 {codes.INVALID_AUTHENTICATION_FIELD}). In responses "
                f"`config` is always present and every secret reads `{auth.MASK}`."
            )
        }
    )


def _override_field(spec: bs.OverrideField) -> tuple[Any, Any]:
    if spec.kind == "bool":
        kind: Any = bool
    else:
        kind = Annotated[int if spec.kind == "int" else float, Field(ge=spec.low, le=spec.high)]
    return (kind | NotNull, Field(None, description=spec.description))


CircuitBreakerOverride = create_model(
    "CircuitBreakerOverride",
    __doc__=(
        "Thresholds of this configuration's circuit breaker that replace the global `FLOWKER_BREAKER_*` "
        f"settings; a field left out keeps the setting. Unknown fields are refused (400 "
        f"{codes.INVALID_BREAKER_OVERRIDE}). `null` as a whole (in PATCH) drops the override."
    ),
    __config__=ConfigDict(extra="forbid"),
    **{name: _override_field(spec) for name, spec in bs.OVERRIDE_FIELDS.items()},
)


class ExecutorConfigInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "description": (
                "The body of PATCH: the fields sent replace the stored ones (`authentication` as a whole; "
                f"a secret sent as `{auth.MASK}` keeps the stored one), and the result must be a complete "
                "configuration. `null` clears `description` or `metadata`."
            )
        }
    )

    name: str | NotNull = Field(
        None,
        min_length=1,
        max_length=ec.MAX_NAME,
        description=(
            f"Unique among executor configurations (409 {codes.EXECUTOR_CONFIG_NAME_TAKEN}); trimmed."
        ),
    )
    description: Annotated[str, Field(max_length=ec.MAX_DESCRIPTION)] | None = None
    baseUrl: str | NotNull = Field(
        None,
        max_length=ec.MAX_BASE_URL,
        description=(
            "An http or https URL with a host, without credentials, query or fragment; "
            "a trailing `/` is dropped."
        ),
        examples=["https://kyc.example.com/api"],
        json_schema_extra={"format": "uri"},
    )
    endpoints: Annotated[list[EndpointInput], Field(min_length=1, max_length=ec.MAX_ENDPOINTS)] | NotNull = (
        Field(None, description="Names are unique within the configuration.")
    )
    authentication: ExecutorAuthentication | NotNull = None
    metadata: Metadata | None = Field(None, description=_METADATA)
    circuitBreaker: CircuitBreakerOverride | None = None  # type: ignore[valid-type]


class ExecutorConfigCreateInput(RootModel[ExecutorConfigInput]):
    """The body of create: a complete configuration."""

    model_config = ConfigDict(
        json_schema_extra={"required": ["name", "baseUrl", "endpoints", "authentication"]}
    )


# --- system ---------------------------------------------------------------------------------------


class HealthResponse(Output):
    status: Literal["healthy"]
    version: str
    uptime: float = Field(description="Seconds since the service started.")
    timestamp: Timestamp


class ReadinessCheck(Output):
    status: Literal["up", "down"]
    latency_ms: float | None = Field(None, description="When up.")
    error: str | None = Field(None, description="When down: a timeout or the error's type.")


class ReadinessResponse(Output):
    status: Literal["healthy", "unhealthy", "draining"] = Field(
        description="`draining` while the service shuts down (then `checks` is empty)."
    )
    checks: dict[str, ReadinessCheck] = Field(description="By dependency, e.g. `store`.")
    version: str


class VersionResponse(Output):
    version: str
    requestDate: Timestamp


# --- workflows ------------------------------------------------------------------------------------


class WorkflowOutput(Output):
    """A stored workflow. Absent optional fields are omitted, never `null`."""

    id: UUID
    name: str
    description: str | None = None
    status: WorkflowStatus
    nodes: list[Node]
    edges: list[Edge]
    metadata: dict[str, Any] | None = None
    createdAt: Timestamp
    updatedAt: Timestamp


class WorkflowCreateOutput(Output):
    workflowId: UUID
    version: Literal["1.0.0"] = Field(description="Always `1.0.0`, as the original API answers.")
    status: WorkflowStatus
    createdAt: Timestamp


class WorkflowListOutput(_Page):
    items: list[WorkflowOutput]


# --- executor configurations ----------------------------------------------------------------------


class ExecutorEndpoint(Output):
    name: str
    path: str
    method: Literal[ec.METHODS]
    timeout: int = Field(description="Seconds.")


class ExecutorBreakerOutput(Output):
    """The configuration's circuit breaker, one state for the whole cluster."""

    state: Literal[bs.STATES]
    failureRate: float | None = Field(
        description="Percent of failed calls among `callsInWindow`; null while the window holds none."
    )
    slowCallRate: float | None = Field(
        description="Percent of slow calls among `callsInWindow`; null while the window holds none."
    )
    callsInWindow: int = Field(description="Calls recorded since the last transition (at most the window).")
    consecutiveFailures: int
    openedAt: Timestamp | None = Field(description="When it last opened; null while closed.")
    nextTrialAt: Timestamp | None = Field(description="When it admits a trial call; null unless open.")


class ExecutorConfigurationOutput(Output):
    model_config = ConfigDict(
        json_schema_extra={
            "description": f"A stored executor configuration; every secret reads `{auth.MASK}`."
        }
    )

    id: UUID
    name: str
    description: str | None = None
    baseUrl: str
    endpoints: list[ExecutorEndpoint]
    authentication: ExecutorAuthentication
    status: ec.ExecutorStatus
    metadata: dict[str, Any] | None = None
    circuitBreaker: CircuitBreakerOverride | None = None  # type: ignore[valid-type]
    createdAt: Timestamp
    updatedAt: Timestamp
    lastTestedAt: Timestamp | None = None
    breaker: ExecutorBreakerOutput | None = Field(
        None, description="In the answers of get and of breaker reset only."
    )


class ExecutorConfigurationListOutput(_Page):
    items: list[ExecutorConfigurationOutput]


class ExecutorTestStageDetails(Output):
    url: str = Field(
        description=(
            "The URL called, without its query string (for the OIDC types' authentication stage: the "
            "token endpoint, or the issuer when discovery failed)."
        )
    )
    method: Literal["GET", "HEAD", "POST"] = Field(description="POST only for a token request.")
    statusCode: int | None = Field(None, description="When the service (or the issuer) answered.")
    error: str | None = Field(
        None, description="OIDC: the issuer's OAuth `error` code when it refused the token request."
    )
    expiresInSeconds: int | None = Field(
        None, description="OIDC: how long the token obtained is kept (its `expires_in`, capped)."
    )
    refreshToken: bool | None = Field(None, description="OIDC: whether the issuer gave a refresh token.")


class ExecutorTestStage(Output):
    name: Literal[STAGES]
    status: Literal["passed", "failed", "skipped"]
    durationMs: int = Field(ge=0)
    message: str = Field(
        description=(
            "`HTTP <status>`, `no answer: <error type>` when the service could not be reached, "
            "or why the stage was skipped. For the OIDC types' authentication stage: `token obtained "
            "(<grant> grant, HTTP <status>)`, or why no token was obtained (the issuer's error code "
            "and description, never a secret)."
        ),
        examples=[
            "HTTP 200",
            "no answer: ClientConnectorError",
            "token obtained (client_credentials grant, HTTP 200)",
        ],
    )
    details: ExecutorTestStageDetails | None = Field(None, description="For a stage that ran.")


class ExecutorTestOutput(Output):
    executorConfigId: UUID
    overallStatus: Literal["passed", "failed", "partial"] = Field(
        description="`passed` when no stage failed, `failed` when none passed, `partial` otherwise."
    )
    durationMs: int = Field(ge=0)
    stages: list[ExecutorTestStage] = Field(
        min_length=len(STAGES), max_length=len(STAGES), description="Always the three stages, in order."
    )
    summary: str
    startedAt: Timestamp
    completedAt: Timestamp = Field(description="Also the configuration's new `lastTestedAt`.")


# --- executions -----------------------------------------------------------------------------------

_EXECUTION_ID = "The execution's id."
_WORKFLOW_ID = "The workflow the execution runs."


class ExecutionCreateOutput(Output):
    executionId: UUID = Field(description=_EXECUTION_ID)
    workflowId: UUID = Field(description=_WORKFLOW_ID)
    status: ExecutionStatus = Field(description="`pending` when created; a replay shows the current status.")
    startedAt: Timestamp


class ExecutionStatusOutput(Output):
    """An execution's progress. Absent optional fields are omitted, never `null`."""

    executionId: UUID = Field(description=_EXECUTION_ID)
    workflowId: UUID = Field(description=_WORKFLOW_ID)
    status: ExecutionStatus
    currentStepNumber: int = Field(
        ge=0, description="Steps recorded so far (a provider call counts once it has ended)."
    )
    totalSteps: int = Field(
        ge=0,
        description=(
            "The workflow's nodes but the trigger, including those that a branch may skip; "
            "so a completed execution may have run fewer."
        ),
    )
    startedAt: Timestamp
    completedAt: Timestamp | None = Field(None, description="Once the execution has ended.")
    errorMessage: str | None = Field(
        None, description='Why it failed or was cancelled, e.g. `node "<id>": <why>`, `cancelled`.'
    )


class ExecutionListOutput(_Page):
    items: list[ExecutionStatusOutput]


# --- dashboards -----------------------------------------------------------------------------------


class StatusCountOutput(Output):
    status: WorkflowStatus
    count: int = Field(ge=0, examples=[8])


class WorkflowSummaryOutput(Output):
    """Workflows by status."""

    total: int = Field(ge=0, description="Every workflow.", examples=[15])
    active: int = Field(ge=0, description="Active workflows (those that run).", examples=[8])
    byStatus: list[StatusCountOutput] = Field(
        description="Every status (`draft`, `active`, `inactive`, in that order), with 0 when none has it."
    )


class ExecutionSummaryOutput(Output):
    """Executions of the window by status; `total` counts them all."""

    total: int = Field(ge=0, examples=[150])
    pending: int = Field(ge=0, examples=[3])
    running: int = Field(ge=0, examples=[2])
    completed: int = Field(ge=0, examples=[120])
    failed: int = Field(ge=0, examples=[24])
    cancelled: int = Field(ge=0, description="Stopped by `POST /v1/executions/{id}/cancel`.", examples=[1])


class StepResult(Output):
    stepNumber: int = Field(ge=1, description="1-based, handed out when the node started.")
    stepName: str = Field(description="The node's name, or `<type>_<id>` when it has none.")
    nodeId: str
    status: StepStatus
    output: Any = Field(
        None,
        description=(
            "What the node produced: for an executor node, the provider's response "
            "`{status, headers, body}`, or what its `outputMapping` builds from it (for a "
            "failed call, what the provider answered, if anything); for a conditional, "
            "`{condition, result, branchTaken}`; for an action, its settings; else omitted."
        ),
    )
    errorMessage: str | None = Field(None, description="Why the step failed.")
    executedAt: Timestamp = Field(description="When the step started.")
    durationMs: int = Field(ge=0, description="0 for nodes that do no I/O.")


class ExecutionResultsOutput(Output):
    executionId: UUID = Field(description=_EXECUTION_ID)
    workflowId: UUID = Field(description=_WORKFLOW_ID)
    status: Literal[_TERMINAL]
    stepResults: list[StepResult] = Field(
        description="The steps that ran, by step number; skipped nodes are absent."
    )
    finalOutput: Any = Field(
        None,
        description=(
            "Only when `completed`: the `output` of the last `set_output` action that ran, "
            "or, when none ran, the whole context (`{workflow: <inputData>, <nodeId>: "
            "<output>, ...}`)."
        ),
    )
    errorMessage: str | None = Field(None, description="Why it failed or was cancelled.")
    startedAt: Timestamp
    completedAt: Timestamp


class TimelineStep(StepResult):
    """A step as the timeline shows it; values under credential-like keys read `********`."""

    nodeType: str = Field(description="`executor`, `conditional`, `action`, or `unknown` for a removed node.")
    input: Any = Field(
        None,
        description="For an executor step: the body its input mapping built, as sent to the provider.",
    )
    attempts: int | None = Field(
        None, ge=1, description="For an executor step: how many HTTP attempts its call took."
    )
    repeat: bool | None = Field(
        None, description="For an executor step: its call was sent again after its supervisor stopped."
    )


class ExecutionTimelineOutput(Output):
    """One execution's step timeline, also while it runs (the operator console's execution page)."""

    executionId: UUID = Field(description=_EXECUTION_ID)
    workflowId: UUID = Field(description=_WORKFLOW_ID)
    workflowName: str | None = None
    status: ExecutionStatus
    currentStepNumber: int = Field(ge=0)
    totalSteps: int = Field(ge=0)
    startedAt: Timestamp
    completedAt: Timestamp | None = None
    errorMessage: str | None = None
    steps: list[TimelineStep] = Field(description="The steps recorded so far, by step number.")
    inFlight: list[str] = Field(description="The executor nodes whose calls are under way, by step.")


# --- audit trail ----------------------------------------------------------------------------------


class AuditActor(Output):
    type: Literal["api_key", "system", "anonymous"] = Field(
        description=(
            "`api_key` for a change made through the API; `system` for what Flowker does "
            "itself (an execution's steps and end); `anonymous` for a request without a valid key "
            "(`AUTHENTICATION_FAILED`)."
        )
    )
    id: str = Field(
        description=(
            "For `api_key`, the key's id: `key-` and 12 hex digits of its SHA-256, never the "
            "key; for `system`, `flowker`; for `anonymous`, `anonymous`."
        ),
        examples=["key-0123456789ab"],
    )
    ipAddress: str = Field(description="The client's address as the server saw it, never `X-Forwarded-For`.")


class AuditEntryOutput(Output):
    """One event of the append-only, hash-chained audit trail."""

    eventId: UUID
    sequence: int = Field(ge=1, description="Position in the chain: 1, 2, 3, ... without gaps.")
    eventType: Literal[audit.EVENT_TYPES]
    action: audit.AuditAction
    result: audit.AuditResult
    resourceType: audit.ResourceType
    resourceId: UUID = Field(
        description=(
            "The workflow, execution or executor configuration concerned; the nil UUID when no resource "
            "is (`AUTHENTICATION_FAILED`)."
        )
    )
    actor: AuditActor
    metadata: dict[str, Any] = Field(
        description=(
            "Details by event type, e.g. `workflow.name` and `workflow.status`, or an "
            "execution's `workflowId` and `error`. Provider call events add `nodeId`, `stepNumber`, "
            "`executorConfigId`, `endpointName` and `runAttempt` (1 unless the run was taken up again "
            "after its supervisor stopped); `repeat: true` marks a call sent again after such a stop, "
            "and a failed call adds `code` and `mayHaveReachedProvider`."
        )
    )
    timestamp: Timestamp
    hash: str = Field(
        pattern=_HEX64,
        description=(
            "SHA-256 (lower-case hex) of `previousHash` (or the string "
            f"`{audit.GENESIS}` for the first event), `|`, and the canonical JSON of this "
            "event without `hash` and `previousHash`, by its `hashScheme` (RFC 8785)."
        ),
    )
    previousHash: Annotated[str, Field(pattern=_HEX64)] | None = Field(
        description="The `hash` of the event before; `null` for the first event."
    )
    hashScheme: str | None = Field(
        None,
        description=(
            "How `hash` was computed: `sha256-jcs` (every event chained now), SHA-256 over RFC 8785 (JCS) "
            "canonical JSON. Absent on events chained before it was recorded: their canonical JSON is "
            "orjson's with keys sorted. An event with another value does not verify."
        ),
    )


class AuditListOutput(Output):
    items: list[AuditEntryOutput]
    nextCursor: str = Field(
        pattern="^[0-9]*$",
        description=(
            "The `sequence` of the page's last event, in decimal: send it as `cursor` (same "
            '`sortOrder`) for the next page; `""` on the last page.'
        ),
    )
    hasMore: bool


class HashChainVerificationOutput(Output):
    """The original's `{isValid, totalChecked, message, firstInvalidId}`, with what the log was held to."""

    isValid: bool
    totalChecked: int = Field(
        ge=0, description="Events read: from the first to the requested one, or to the first bad one."
    )
    message: str = Field(
        description=(
            "`hash chain is valid`, or what is wrong, first: a sequence gap, a `previousHash` that is not "
            "the hash of the event before, a `hash` that does not match the event's content, ..."
        )
    )
    checked: int = Field(ge=0, description="Events that verified (before the first bad one, if any).")
    checkpointsChecked: int = Field(
        ge=0, description="Stored checkpoints whose signature and root held against the log."
    )
    treeSize: int = Field(ge=0, description="The events that verified: the tree `rootHash` is the root of.")
    rootHash: str = Field(
        pattern="^[A-Za-z0-9+/]{43}=$",
        description="RFC 9162 root of the first `treeSize` events, base64 (the empty tree's for none).",
    )
    reason: Literal[audit_verify.REASONS] | None = Field(
        None,
        description=(
            "When not valid, why: `entry_hash_mismatch` (an event's `hash` is not that of its content, or "
            "it is not a well-formed event), `previous_hash_mismatch`, `sequence_gap` (events missing), "
            "`duplicate_sequence`, `column_mismatch` (a searched column of the store differs from the "
            "hashed event), `checkpoint_mismatch` (the log's root at a checkpoint's size is not the "
            "checkpoint's: the log was rewritten), `bad_signature` (a stored checkpoint does not verify "
            "with the log's key), `truncated` (the log is shorter than a checkpoint says)."
        ),
    )
    firstInvalidId: UUID | None = Field(
        None, description="When an event is at fault: the `eventId` of the first bad event."
    )
    firstInvalidSequence: int | None = Field(
        None,
        description=(
            "When not valid: the first bad event's `sequence`; for a checkpoint's fault, its tree size; for "
            "`truncated`, the first sequence missing."
        ),
    )


_BASE64_HASH = "^[A-Za-z0-9+/]{43}=$"


class InclusionProofOutput(Output):
    """RFC 9162 §2.1.3: the audit path of one event in the tree of the first `treeSize` events."""

    leafIndex: int = Field(ge=0, description="The event's leaf: its `sequence` minus 1.")
    treeSize: int = Field(ge=1, description="The tree the proof is for: its first `treeSize` events.")
    hashes: list[Annotated[str, Field(pattern=_BASE64_HASH)]] = Field(
        description=(
            "The proof's node hashes, base64 (standard, padded) of 32 bytes each, from the leaf up. The leaf "
            "hash is SHA-256(0x00 ‖ the 32 bytes of the event's `hash`)."
        )
    )
    rootHash: str = Field(
        pattern=_BASE64_HASH, description="The root of the tree of `treeSize` events, base64 (RFC 6962 MTH)."
    )


class ConsistencyProofOutput(Output):
    """RFC 9162 §2.1.4: the tree of the first `to` events extends the tree of the first `from`."""

    model_config = ConfigDict(extra="forbid", serialize_by_alias=True, validate_by_name=True)

    from_: int = Field(alias="from", ge=1, description="The older tree's size.")
    to: int = Field(ge=1, description="The newer tree's size.")
    hashes: list[Annotated[str, Field(pattern=_BASE64_HASH)]] = Field(
        description=(
            "The proof's node hashes, base64 (standard, padded) of 32 bytes each; empty when `from` = `to`."
        )
    )
    rootHash: str = Field(
        pattern=_BASE64_HASH, description="The root of the tree of `to` events, base64 (RFC 6962 MTH)."
    )


class AuditCheckpointOutput(Output):
    """A signed checkpoint of the audit log: a C2SP `tlog-checkpoint` signed as a C2SP `signed-note`."""

    treeSize: int = Field(ge=1, description="The log's size it commits to: its first `treeSize` events.")
    rootHash: str = Field(
        pattern=_BASE64_HASH,
        description="The root of the tree of `treeSize` events, base64 (RFC 6962 MTH), as in the note.",
    )
    createdAt: str = Field(description="When it was issued (RFC 3339, UTC).")
    note: str = Field(
        description=(
            "The signed note's exact text: origin, tree size and root hash lines, a blank line, then the "
            "Ed25519 signature line (verify it with `GET /v1/audit/public-key`)."
        )
    )


class AuditCheckpointListOutput(Output):
    """The newest checkpoints, largest tree size first."""

    items: list[AuditCheckpointOutput]
    nextCursor: str = Field(
        pattern="^[0-9]*$",
        description=(
            "The `treeSize` of the page's last checkpoint, in decimal: send it as `cursor` for the next "
            'page; `""` on the last page.'
        ),
    )
    hasMore: bool


class AuditExportLine(Output):
    """One line of `GET /v1/audit/export` (NDJSON): a JSON object whose `type` says what it holds."""

    type: Literal["header", "event", "checkpoint", "end"] = Field(
        description=(
            "`header` first (`format` `flowker-audit-export`, `version` 1, `origin`, `treeSize`: the events "
            "that follow, `exportedAt`); then `event` lines in sequence order (`event`: the event as "
            "`GET /v1/audit-events/{id}` gives it), each `checkpoint` (as listed by "
            "`GET /v1/audit/checkpoints`) right after the event of its `treeSize`; `end` last (`events`, "
            "`checkpoints`: how many came before)."
        )
    )
    format: str | None = None
    version: int | None = None
    origin: str | None = None
    exportedAt: str | None = None
    event: AuditEntryOutput | None = None
    treeSize: int | None = None
    rootHash: str | None = None
    createdAt: str | None = None
    note: str | None = None
    events: int | None = None
    checkpoints: int | None = None


class AuditPublicKeyOutput(Output):
    """The key the audit log's checkpoints are signed with, in its public form."""

    verifierKey: str = Field(
        description="The C2SP signed-note verifier key: `<name>+<8 hex key id>+<base64(0x01 ‖ Ed25519 key)>`."
    )


# --- what runs now --------------------------------------------------------------------------------


class LiveExecutionOutput(Output):
    """An execution a supervisor is driving now."""

    executionId: UUID = Field(description=_EXECUTION_ID)
    workflowId: UUID = Field(description=_WORKFLOW_ID)
    status: ExecutionStatus = Field(description="`running`, or `pending` while its first step is written.")
    currentStepNumber: int = Field(ge=0, description="Steps recorded so far.")
    totalSteps: int = Field(ge=0, description="The workflow's nodes but the trigger.")
    currentNodeIds: list[str] = Field(description="The nodes whose provider calls are in flight now.")
    supervisor: str = Field(description="The supervisor actor hosting it.")
    nodeId: str = Field(description="The Ray node that supervisor runs on.")
    startedAt: Timestamp
    ageSeconds: float = Field(ge=0, description="Seconds since it started.")


class LiveExecutionsOutput(Output):
    items: list[LiveExecutionOutput] = Field(description="Oldest first.")
    unansweredSupervisors: int = Field(
        ge=0, description="Supervisors that did not answer in time: their executions are missing here."
    )


# --- catalog --------------------------------------------------------------------------------------

_SCHEMA_STRING = "A JSON Schema (draft 2020-12, formats asserted), as a JSON string, as the original answers."


class CatalogExecutorSummary(Output):
    id: str = Field(examples=["tracer.validate-transaction"])
    name: str
    category: str
    version: str
    providerId: str


class CatalogExecutorDetail(CatalogExecutorSummary):
    schema_: str = Field(alias="schema", description=f"Of the executor's input. {_SCHEMA_STRING}")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class CatalogExecutorList(RootModel[list[CatalogExecutorSummary]]):
    """Every executor, sorted by id (a plain array, no pagination)."""


class CatalogTriggerSummary(Output):
    id: str = Field(examples=["webhook"])
    name: str
    version: str


class CatalogTriggerDetail(CatalogTriggerSummary):
    schema_: str = Field(alias="schema", description=f"Of the trigger node's data. {_SCHEMA_STRING}")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)


class CatalogTriggerList(RootModel[list[CatalogTriggerSummary]]):
    """Every trigger, sorted by id."""


class CatalogProviderSummary(Output):
    id: str = Field(examples=["tracer"])
    name: str
    description: str
    version: str


class CatalogProviderDetail(CatalogProviderSummary):
    configSchema: str = Field(
        description=(
            f"Of a provider configuration's `config`. {_SCHEMA_STRING} Properties marked `writeOnly` "
            f"are secrets: encrypted at rest, answered as `{auth.MASK}`."
        )
    )


class CatalogProviderList(RootModel[list[CatalogProviderSummary]]):
    """Every provider, sorted by id."""


class CatalogTemplateSummary(Output):
    id: str = Field(examples=["tracer-midaz-validation"])
    name: str
    description: str
    version: str
    category: str


class CatalogTemplateDetail(CatalogTemplateSummary):
    paramSchema: str = Field(
        description=(
            f"Of `params`. {_SCHEMA_STRING} A parameter naming a provider configuration carries "
            "`oneOf: [{const: <id>, title: <name>}]` of the provider's currently active configurations "
            "(an empty array when there is none)."
        )
    )


class CatalogTemplateList(RootModel[list[CatalogTemplateSummary]]):
    """Every template, sorted by id."""


class WorkflowFromTemplateInput(BaseModel):
    templateId: str = Field(description="A catalog template.", examples=["tracer-midaz-validation"])
    params: dict[str, Any] = Field(
        default_factory=dict, description="The template's parameters, checked against its paramSchema."
    )


class ExecutorValidationInput(BaseModel):
    config: dict[str, Any] = Field(
        default_factory=dict, description="The executor input to check against its schema."
    )


class TemplateValidationInput(BaseModel):
    params: dict[str, Any] = Field(
        default_factory=dict, description="The template parameters to check against its paramSchema."
    )


class ValidationOutput(Output):
    valid: Literal[True]


# --- provider configurations ----------------------------------------------------------------------

_CONFIG = (
    "Checked against the provider's `configSchema` (`GET /v1/catalog/providers/{id}`; 422 "
    f"{codes.INVALID_PROVIDER_CONFIG} naming the path and rule). Its secrets (`writeOnly` in the schema) "
    f"are encrypted at rest and answered as `{pc.MASK}`; sending `{pc.MASK}` back keeps the stored one."
)


class ProviderConfigurationCreateInput(BaseModel):
    name: str = Field(min_length=1, max_length=pc.MAX_NAME, description="Unique; spaces trimmed.")
    description: Annotated[str, Field(max_length=pc.MAX_DESCRIPTION)] | NotNull = None
    providerId: str = Field(
        description="A catalog provider: `http`, `midaz` or `tracer`.", examples=["tracer"]
    )
    config: dict[str, Any] = Field(min_length=1, description=_CONFIG)
    metadata: Metadata | NotNull = Field(None, description=_METADATA)


class ProviderConfigurationPatchInput(BaseModel):
    """The fields to change; `providerId` cannot change. `config` replaces the whole map."""

    name: Annotated[str, Field(min_length=1, max_length=pc.MAX_NAME)] | NotNull = None
    description: Annotated[str, Field(max_length=pc.MAX_DESCRIPTION)] | NotNull = None
    config: Annotated[dict[str, Any], Field(min_length=1, description=_CONFIG)] | NotNull = None
    metadata: Metadata | NotNull = Field(None, description=_METADATA)


class ProviderConfigurationCreateOutput(Output):
    id: UUID
    name: str
    status: pc.ProviderConfigStatus
    createdAt: Timestamp


class ProviderConfigurationOutput(Output):
    model_config = ConfigDict(
        json_schema_extra={"description": f"A stored provider configuration; every secret reads `{pc.MASK}`."}
    )

    id: UUID
    name: str
    description: str | None = None
    providerId: str
    config: dict[str, Any]
    status: pc.ProviderConfigStatus
    metadata: dict[str, Any] | None = None
    createdAt: Timestamp
    updatedAt: Timestamp


class ProviderConfigurationListOutput(_Page):
    items: list[ProviderConfigurationOutput]


class ProviderTestStageDetails(Output):
    url: str = Field(description="The base URL called, without its query string.")
    statusCode: int | None = Field(None, description="When the service answered.")
    responseTimeMs: int | None = None
    hasApiKey: bool | None = Field(None, description="Authentication stage: static credentials were sent.")
    headerCount: int | None = Field(None, description="Authentication stage: how many credential headers.")


class ProviderTestStage(Output):
    name: Literal[STAGES]
    status: Literal["passed", "failed", "skipped"]
    durationMs: int = Field(ge=0)
    message: str = Field(examples=["HTTP 200", "no answer: ClientConnectorError"])
    error: str | None = Field(None, description="The kind of failure when the service did not answer.")
    details: ProviderTestStageDetails | None = Field(None, description="For a stage that ran.")


class ProviderConfigTestOutput(Output):
    providerConfigId: UUID
    providerId: str
    overallStatus: Literal["passed", "failed", "partial"]
    durationMs: int = Field(ge=0)
    stages: list[ProviderTestStage] = Field(min_length=len(STAGES), max_length=len(STAGES))
    summary: str
    startedAt: Timestamp
    completedAt: Timestamp
