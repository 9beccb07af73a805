"""Every metric Flowker exports, once: its name, kind, help text, labels and buckets.

Labels are bounded: workflow and executor configuration ids, supervisor names, node ids, outcomes.
Never an execution id (unbounded), never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass

COUNTER = "counter"
GAUGE = "gauge"
HISTOGRAM = "histogram"

#: Seconds: from a fast local provider to a slow one with retries.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
#: Seconds: a store write of a batch of audit events.
WRITE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass(frozen=True)
class Metric:
    """One exported series family (``name`` without the ``_total`` suffix for counters)."""

    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()


EXECUTIONS_STARTED = Metric(
    "flowker_executions_started", COUNTER, "Executions a supervisor started running.", ("workflow_id",)
)
EXECUTIONS_FINISHED = Metric(
    "flowker_executions_finished",
    COUNTER,
    "Executions that ended, by final status (completed, failed, cancelled).",
    ("workflow_id", "status"),
)
STEP_SECONDS = Metric(
    "flowker_step_duration_seconds",
    HISTOGRAM,
    "Duration of one executor step (the provider call with its retries), by outcome (success, failure).",
    ("executor_config_id", "outcome"),
    LATENCY_BUCKETS,
)
PROVIDER_CALLS = Metric(
    "flowker_provider_calls",
    COUNTER,
    "Provider calls made by executor actors, by outcome: ok, or the FLK code of the failure.",
    ("executor_config_id", "outcome"),
)
PROVIDER_REQUESTS = Metric(
    "flowker_provider_requests",
    COUNTER,
    "HTTP requests sent to providers (every attempt), by outcome: 2xx, 3xx, 4xx, 5xx, timeout, network.",
    ("executor_config_id", "outcome"),
)
PROVIDER_REQUEST_SECONDS = Metric(
    "flowker_provider_request_duration_seconds",
    HISTOGRAM,
    "Duration of one HTTP request to a provider (one attempt).",
    ("executor_config_id",),
    LATENCY_BUCKETS,
)
PROVIDER_RETRIES = Metric(
    "flowker_provider_retries",
    COUNTER,
    "Attempts repeated after a transient failure.",
    ("executor_config_id",),
)
BREAKER_STATE = Metric(
    "flowker_breaker_state",
    GAUGE,
    "Circuit breaker state of each live executor actor: 1 for its current state, 0 for the others.",
    ("executor_config_id", "state"),
)
CHANNEL_REQUESTS = Metric(
    "flowker_executor_channel_requests",
    COUNTER,
    "Ray calls an executor actor served for provider calls, by kind: call (one alone), submit, results, "
    "lease (a caller's lease for direct calls, with its reports).",
    ("executor_config_id", "kind"),
)
CHANNEL_CALLS = Metric(
    "flowker_executor_channel_calls",
    COUNTER,
    "Provider calls an executor actor took (their ratio to the requests: the batching).",
    ("executor_config_id",),
)
CALLS_BY_LANE = Metric(
    "flowker_executor_calls_by_lane",
    COUNTER,
    "Provider calls a caller made, by lane: direct (sent by the caller under a lease and ended there), "
    "handed_over (sent direct, then retried by the executor actor), actor (through the executor actor).",
    ("executor_config_id", "lane"),
)
TOKEN_FETCHES = Metric(
    "flowker_token_fetches",
    COUNTER,
    "OIDC token requests to issuers, by grant and outcome (ok, failed).",
    ("grant", "outcome"),
)
AUDIT_APPEND_SECONDS = Metric(
    "flowker_audit_append_duration_seconds",
    HISTOGRAM,
    "Duration of one audit chain write (a batch of events, group commit).",
    (),
    WRITE_BUCKETS,
)
AUDIT_EVENTS = Metric("flowker_audit_events_appended", COUNTER, "Audit events chained.")
AUDIT_CHAIN_LENGTH = Metric(
    "flowker_audit_chain_length", GAUGE, "Sequence number of the audit chain's last event."
)
LIVE_EXECUTIONS = Metric(
    "flowker_live_executions",
    GAUGE,
    "Executions hosted by each supervisor now.",
    ("supervisor", "node_id"),
)
HOST_BATCHES = Metric(
    "flowker_host_batches",
    COUNTER,
    "Batches of starts a supervisor received from the front doors (one Ray call each).",
    ("supervisor",),
)
HOST_STARTS = Metric(
    "flowker_host_starts",
    COUNTER,
    "Starts a supervisor received in those batches (its adoptions are not counted).",
    ("supervisor",),
)
HTTP_REQUESTS = Metric(
    "flowker_http_requests",
    COUNTER,
    "Requests the front door answered, by method, route template and status class.",
    ("method", "route", "status_class"),
)
HTTP_REQUEST_SECONDS = Metric(
    "flowker_http_request_duration_seconds",
    HISTOGRAM,
    "Time the front door took to answer, by method and route template.",
    ("method", "route"),
    LATENCY_BUCKETS,
)
SCRAPE_ERRORS = Metric(
    "flowker_scrape_errors",
    COUNTER,
    "Actors that did not answer a /metrics scrape in time (their counters keep their last values); "
    "actor_kind runtime: the cluster could not be asked at all.",
    ("actor_kind",),
)
SCRAPE_SOURCES = Metric(
    "flowker_scrape_sources", GAUGE, "Processes whose series the last /metrics scrape gathered.", ()
)

ALL: tuple[Metric, ...] = (
    EXECUTIONS_STARTED,
    EXECUTIONS_FINISHED,
    STEP_SECONDS,
    PROVIDER_CALLS,
    PROVIDER_REQUESTS,
    PROVIDER_REQUEST_SECONDS,
    PROVIDER_RETRIES,
    BREAKER_STATE,
    CHANNEL_REQUESTS,
    CHANNEL_CALLS,
    CALLS_BY_LANE,
    TOKEN_FETCHES,
    AUDIT_APPEND_SECONDS,
    AUDIT_EVENTS,
    AUDIT_CHAIN_LENGTH,
    LIVE_EXECUTIONS,
    HOST_BATCHES,
    HOST_STARTS,
    HTTP_REQUESTS,
    HTTP_REQUEST_SECONDS,
    SCRAPE_ERRORS,
    SCRAPE_SOURCES,
)
BY_NAME = {metric.name: metric for metric in ALL}
