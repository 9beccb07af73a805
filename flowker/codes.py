"""Every error code Flowker answers with, defined once (``docs/errors.md`` documents each one).

Codes are the original Flowker's ``FLK-NNNN`` plus ``UNAUTHORIZED`` and ``INVALID_CURSOR``; codes the
original lacks fill free slots of the same ranges. A code with several meanings in ``docs/errors.md``
has one constant, named for the meaning the docs give it first. Nothing else under ``flowker/`` spells
a code out: ``tests/test_error_catalogue.py`` checks that, and that this catalogue and the docs agree.

Pure: the standard library only, so ``flowker.dsl`` and ``flowker.domain`` may import it.
"""

from __future__ import annotations

# --- Request and protocol -------------------------------------------------------------------------
UNAUTHORIZED = "UNAUTHORIZED"  # 401: X-API-Key missing or invalid
BAD_BODY = "FLK-0001"  # 400: body missing, not JSON, not an object, or not decodable
INVALID_UUID = "FLK-0002"  # 400: a path id (or id filter) is not a UUID
WRONG_FIELD_TYPE = "FLK-0302"  # 400: a field has the wrong JSON type
UNKNOWN_STATUS_OR_SORT = "FLK-0304"  # 400: unknown status filter or sortBy
INVALID_LIMIT = "FLK-0309"  # 400: limit below 1 or not a whole number (above 100 is read as 100)
INVALID_SORT_ORDER = "FLK-0310"  # 400: sortOrder not ASC or DESC
INVALID_CURSOR = "INVALID_CURSOR"  # 400: a cursor this API did not issue, or issued for another sort
METADATA_KEY_TOO_LONG = "FLK-0312"  # 400: a metadata key longer than 100 characters
TOO_MANY_METADATA_ENTRIES = "FLK-0315"  # 400: more than 50 metadata entries
BODY_TOO_DEEP = "FLK-0314"  # 400: a body nested deeper than 32 levels
REQUEST_HEAD_TOO_LARGE = "FLK-0316"  # 431: a header line over 8 KiB, over 100 headers, or 32 KiB in all
URL_TOO_LONG = "FLK-0317"  # 414: a URL longer than 8 KiB
ROUTE_NOT_FOUND = "FLK-0400"  # 404: no such route
METHOD_OR_ORIGIN_NOT_ALLOWED = "FLK-0401"  # 405: method not allowed; 403: CORS origin not allowed
HTTPS_REQUIRED = "FLK-0403"  # 403: production mode behind a proxy: the request did not come over HTTPS
BODY_TOO_LARGE = "FLK-0506"  # 413: body larger than FLOWKER_MAX_BODY_BYTES
STATE_CHANGED = "FLK-0350"  # 409: the entity changed concurrently (a check-and-set lost)
INTERNAL_ERROR = "FLK-9999"  # 500 (or a step's error): a bug, never caused by client input
STORE_UNAVAILABLE = "FLK-0012"  # 503: the store (MongoDB) cannot be reached; retry later

# --- Workflows ------------------------------------------------------------------------------------
WORKFLOW_NOT_FOUND = "FLK-0100"  # 404
WORKFLOW_NAME_TAKEN = "FLK-0101"  # 409: a workflow with that name exists
WORKFLOW_TRANSITION_NOT_ALLOWED = "FLK-0102"  # 422: activate/deactivate/draft from the wrong status
WORKFLOW_NOT_EDITABLE = "FLK-0103"  # 422: only a draft can be replaced; an active one cannot be deleted
UNKNOWN_EXECUTOR_REFERENCE = "FLK-0104"  # 404: a node names a missing configuration or a catalog executor
INVALID_CONDITION = "FLK-0105"  # 400: a condition is missing at activation or does not parse
WORKFLOW_NAME_REQUIRED = "FLK-0110"  # 400
WORKFLOW_NAME_TOO_LONG = "FLK-0111"  # 400: longer than 100
WORKFLOW_WITHOUT_NODES = "FLK-0112"  # 422: activation of a workflow without nodes
TOO_MANY_NODES = "FLK-0113"  # 400: more than 100 nodes
TOO_MANY_EDGES = "FLK-0114"  # 400: more than 200 edges
EDGE_NAMES_NO_NODE = "FLK-0115"  # 400: an edge names a node that does not exist
NOT_ONE_TRIGGER = "FLK-0116"  # 422: activation needs exactly one trigger node
WORKFLOW_DESCRIPTION_TOO_LONG = "FLK-0117"  # 400: longer than 500
CYCLE_OR_EDGE_TO_TRIGGER = "FLK-0118"  # 422: the graph has a cycle, or an edge points at the trigger
CONDITIONAL_EDGE_WITHOUT_HANDLE = "FLK-0119"  # 400: sourceHandle not "true"/"false" off a conditional
NODE_ID_REQUIRED = "FLK-0120"  # 400
NODE_TYPE_REQUIRED = "FLK-0121"  # 400
NODE_ID_TOO_LONG = "FLK-0122"  # 400: longer than 50
DUPLICATE_NODE_ID = "FLK-0123"  # 400: two nodes share an id
UNKNOWN_NODE_TYPE = "FLK-0124"  # 400: not trigger, executor, conditional or action
SET_OUTPUT_NOT_OBJECT = "FLK-0125"  # 400: a set_output action whose output is not an object
MISREADABLE_NODE_ID = "FLK-0126"  # 400: a node id that a condition or mapping path would misread
EDGE_ID_REQUIRED = "FLK-0130"  # 400
EDGE_SOURCE_REQUIRED = "FLK-0131"  # 400
EDGE_TARGET_REQUIRED = "FLK-0132"  # 400
DUPLICATE_EDGE_ID = "FLK-0133"  # 400: two edges share an id
EDGE_FIELD_TOO_LONG = "FLK-0134"  # 400: id, source, target, sourceHandle or label longer than 50
INVALID_INPUT_MAPPING = "FLK-0140"  # 400
INVALID_OUTPUT_MAPPING = "FLK-0141"  # 400
RAW_TRANSFORMS = "FLK-0142"  # 400: raw transforms are not supported
INVALID_PROVIDER_CONFIG_REF = "FLK-0150"  # 400: providerConfigId names no provider configuration
PROVIDER_EXECUTOR_MISMATCH = "FLK-0151"  # 400: the provider configuration is not of the executor's provider
EXECUTOR_CONFIG_ID_REQUIRED = "FLK-0152"  # 400: an executor node without data.executorConfigId
UNKNOWN_ENDPOINT = "FLK-0153"  # 400 (or a step's error): endpointName is not an endpoint of the config
EXECUTOR_CONFIG_DISABLED = "FLK-0154"  # 422 (or a step's error): the executor configuration is disabled
INVALID_RETRY_POLICY = "FLK-0155"  # 400: an executor node's data.retry is not a valid retry policy

# --- Executor configurations ----------------------------------------------------------------------
EXECUTOR_CONFIG_NOT_FOUND = "FLK-0250"  # 404 (or a step's error: it was deleted)
EXECUTOR_CONFIG_NAME_TAKEN = "FLK-0251"  # 409: a configuration with that name exists
EXECUTOR_CONFIG_NOT_ALLOWED = "FLK-0252"  # 422: wrong state, or in use by an active workflow
UNREADABLE_SECRET = "FLK-0253"  # 422 (or a step's error): a sealed secret cannot be opened
EXECUTOR_CONFIG_NAME_REQUIRED = "FLK-0260"  # 400
EXECUTOR_CONFIG_NAME_TOO_LONG = "FLK-0261"  # 400: longer than 100
BASE_URL_REQUIRED = "FLK-0262"  # 400
INVALID_BASE_URL = "FLK-0263"  # 400: not http(s) with a host, or with credentials, query or fragment
BASE_URL_TOO_LONG = "FLK-0264"  # 400: longer than 500
NO_ENDPOINTS = "FLK-0265"  # 400
NO_AUTHENTICATION = "FLK-0266"  # 400
EXECUTOR_CONFIG_DESCRIPTION_TOO_LONG = "FLK-0267"  # 400: longer than 500
AUTHENTICATION_TYPE_REQUIRED = "FLK-0268"  # 400
UNSUPPORTED_AUTHENTICATION_TYPE = "FLK-0269"  # 400: unknown authentication type
ENDPOINT_NAME_REQUIRED = "FLK-0270"  # 400
INVALID_ENDPOINT_PATH = "FLK-0271"  # 400: path missing or an absolute URL
ENDPOINT_METHOD_REQUIRED = "FLK-0272"  # 400
INVALID_ENDPOINT_METHOD = "FLK-0273"  # 400
INVALID_AUTHENTICATION_FIELD = "FLK-0274"  # 400 (or a step's error): a field missing, unknown or mistyped
INVALID_ENDPOINT_TIMEOUT = "FLK-0275"  # 400: outside 1..300 seconds
DUPLICATE_ENDPOINT_NAME = "FLK-0276"  # 400: two endpoints share a name
ENDPOINT_FIELD_TOO_LONG = "FLK-0277"  # 400: name longer than 50 or path longer than 200
TOO_MANY_ENDPOINTS = "FLK-0278"  # 400: more than 50 endpoints
INVALID_BREAKER_OVERRIDE = "FLK-0279"  # 400: a circuitBreaker field unknown, mistyped or out of bounds
CREDENTIALS_BOUND_TO_ORIGIN = "FLK-0289"  # 422: baseUrl or the issuer moved to another origin, secrets kept

# --- Catalog --------------------------------------------------------------------------------------
CATALOG_EXECUTOR_NOT_FOUND = "FLK-0200"  # 404: no catalog executor with that id
INVALID_EXECUTOR_INPUT = "FLK-0201"  # 400: a catalog executor's input does not match its schema
CATALOG_TRIGGER_NOT_FOUND = "FLK-0210"  # 404: no catalog trigger with that id
CATALOG_PROVIDER_NOT_FOUND = "FLK-0230"  # 404: no catalog provider with that id
TEMPLATE_NOT_FOUND = "FLK-0240"  # 404: no catalog template with that id
INVALID_TEMPLATE_PARAMS = "FLK-0242"  # 400: a template's params do not match its paramSchema

# --- Provider configurations ----------------------------------------------------------------------
PROVIDER_CONFIG_NOT_FOUND = "FLK-0290"  # 404
PROVIDER_CONFIG_NAME_TAKEN = "FLK-0291"  # 409: a provider configuration with that name exists
PROVIDER_CONFIG_NOT_ALLOWED = "FLK-0292"  # 422: enable/disable from the wrong status
INVALID_PROVIDER_CONFIG = "FLK-0293"  # 422: config does not match the provider's schema (path named)
PROVIDER_NOT_IN_CATALOG = "FLK-0294"  # 404: providerId names no catalog provider
PROVIDER_CONFIG_NAME_REQUIRED = "FLK-0295"  # 400
PROVIDER_CONFIG_NAME_TOO_LONG = "FLK-0296"  # 400: longer than 100
PROVIDER_ID_REQUIRED = "FLK-0297"  # 400
PROVIDER_CONFIG_REQUIRED = "FLK-0298"  # 400: config missing or empty
PROVIDER_CONFIG_DESCRIPTION_TOO_LONG = "FLK-0299"  # 400: longer than 500
NO_BASE_URL = "FLK-0340"  # 422: the provider configuration has no base URL to test

# --- Step errors (no HTTP status; docs/errors.md, "Step errors") ------------------------------------
ANSWER_OUT_OF_BOUNDS = "FLK-0254"  # the provider's answer is too large or too deep
EXECUTOR_STOPPED = "FLK-0255"  # the executor actor was gone for good twice during the call
PROVIDER_FAILED = "FLK-0256"  # an error status, or network errors / timeouts outlasted the retries
EXECUTOR_RETIRED = "FLK-0257"  # the executor actor was exiting when the call arrived
RETRY_AFTER_TOO_LONG = "FLK-0284"  # the provider asked to wait longer than FLOWKER_RETRY_AFTER_MAX_SECONDS
RETRY_BUDGET_SPENT = "FLK-0285"  # the configuration's retry budget is spent; the call was not retried
TOKEN_REFUSED = "FLK-0258"  # no OIDC token: the issuer refused the request or answered something unusable
TOKEN_ENDPOINT_FAILED = (
    "FLK-0259"  # no OIDC token: the issuer was unreachable, timed out, or failed (5xx/429)
)
DESTINATION_REFUSED = "FLK-0341"  # 422 (or a step's error): the outbound policy refuses the destination
BREAKER_OPEN = "FLK-0507"  # the provider's circuit breaker is open; the call was not made

# --- Executions -----------------------------------------------------------------------------------
EXECUTION_NOT_FOUND = "FLK-0500"  # 404
WORKFLOW_NOT_ACTIVE = "FLK-0501"  # 422: only an active workflow runs
EXECUTION_NOT_ENDED = "FLK-0502"  # 422: results asked for before the execution ended
IDEMPOTENCY_KEY_REUSED = "FLK-0505"  # 409: the Idempotency-Key was used for another request
INVALID_IDEMPOTENCY_KEY = "FLK-0509"  # 400: missing, blank, too long or not printable ASCII
EXECUTION_ALREADY_ENDED = "FLK-0510"  # 422: cancel of an execution that already ended

# --- Webhooks -----------------------------------------------------------------------------------
INVALID_TRIGGER_CONFIG = "FLK-0211"  # 400: a webhook trigger's path, method or verify_token is invalid
WEBHOOK_PATH_TAKEN = "FLK-0360"  # 409: another active workflow's webhook trigger owns this METHOD+path
WEBHOOK_ROUTE_NOT_FOUND = "FLK-0361"  # 404: no active workflow's webhook trigger has this METHOD+path
WEBHOOK_TOKEN_INVALID = "FLK-0362"  # 401: X-Webhook-Token missing or wrong for a route that has one
WEBHOOK_PAYLOAD_TOO_LARGE = "FLK-0363"  # 413: a webhook body larger than 1 MiB

# --- Audit ----------------------------------------------------------------------------------------
AUDIT_EVENT_NOT_FOUND = "FLK-0600"  # 404
UNKNOWN_EVENT_TYPE = "FLK-0601"  # 400: unknown eventType filter
UNKNOWN_AUDIT_ACTION = "FLK-0602"  # 400: unknown action filter
UNKNOWN_AUDIT_RESULT = "FLK-0603"  # 400: unknown result filter
UNKNOWN_RESOURCE_TYPE = "FLK-0605"  # 400: unknown resourceType filter
INVALID_DATE = "FLK-0305"  # 400: dateFrom or dateTo is not an RFC 3339 date-time
DATE_RANGE_REVERSED = "FLK-0308"  # 400: dateFrom is after dateTo
INVALID_AUDIT_CURSOR = "FLK-0610"  # 400: a cursor that is not a sequence number (or a checkpoint tree size)
INVALID_PROOF_RANGE = "FLK-0611"  # 400: a proof's treeSize / from / to the Merkle tree cannot answer for

# --- Dashboards -----------------------------------------------------------------------------------
#: The original's code for every bad dashboard query; a second name of FLK-0302 (see ALIASES).
INVALID_DASHBOARD_QUERY = "FLK-0302"  # 400: startTime/endTime not RFC 3339, reversed, or unknown status

#: Deliberate second names for one code; the catalogue test allows exactly these.
ALIASES: frozenset[str] = frozenset({"INVALID_DASHBOARD_QUERY"})


def catalogue() -> dict[str, str]:
    """Every code constant of this module, name -> code."""
    return {
        name: value
        for name, value in globals().items()
        if name.isupper() and name != "ALIASES" and isinstance(value, str)
    }
