"""The tunables of the runtime, in one place: limits, batch sizes, waits and intervals that are not
settings (:mod:`flowker.settings` holds what an operator sets). The API's own limits stay with the
rules that enforce them (:mod:`flowker.dsl.validation`, :mod:`flowker.domain`).
"""

from __future__ import annotations

# --- Executions ------------------------------------------------------------------------------
#: Times a run may be taken up (first start, then adoptions after crashes) before it is given up.
MAX_RUN_ATTEMPTS = 5
#: Longest reason kept from an unexpected exception's message.
MAX_REASON_CHARS = 300
#: Executions adopted per round at most, so that a backlog resumes in steady steps.
ADOPT_BATCH = 200
#: ``Prefer: wait`` reads the store when the runtime says the execution ended; this often besides, as a
#: safety net (a notice lost with its supervisor, an end missed between the read of a replay and its wait).
WAIT_RECHECK_SECONDS = 1.0
#: Endings each supervisor remembers for the front doors' waiters (a cursor older than that is a gap:
#: the waiters read the store once).
ENDED_FEED_SIZE = 4096
#: How long a supervisor holds a front door's ``ended`` long poll when nothing ended.
ENDED_POLL_SECONDS = 3.0
#: How long a closing front door waits for the starts still queued to reach their supervisors.
CLOSE_FLUSH_SECONDS = 1.0
#: A run's process asks the audit actor to drain the outbox at most once per this many seconds: the
#: chain lags the steps by about this much (every audit read drains first, so no reader sees the lag),
#: and a lone caller's three steps per W3 execution cost one Ray call instead of three.
AUDIT_NUDGE_GAP_SECONDS = 0.05
#: How long a stopping front door waits for the executions it runs itself to end; the rest are stopped
#: before their next step and a supervisor takes them up once their leases lapse (as after a crash).
FRONT_DOOR_STOP_SECONDS = 2.0
#: How long a front door's poller waits before asking a supervisor again after it failed to answer.
ENDED_RETRY_SECONDS = 0.5
#: ``Prefer: wait=N`` is honoured up to this many seconds.
MAX_WAIT_SECONDS = 60.0

# --- Provider calls --------------------------------------------------------------------------
#: A provider answer larger than this fails its step (it is not retried: the request reached the provider);
#: the default of FLOWKER_MAX_RESPONSE_BYTES.
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
#: Nesting levels a provider's JSON answer may have. orjson refuses to serialise beyond 254 levels, and the
#: answer is stored inside a run's state a few levels down: 64 leaves room and fits any real API.
MAX_ANSWER_DEPTH = 64
#: How stale an executor actor's copy of its configuration may be.
CONFIG_TTL_SECONDS = 1.0
#: How long a caller waits for an exiting actor to be gone (and its name free) before making it anew.
EXIT_WAIT_SECONDS = 10.0
#: How long the front door waits for a live executor actor's breaker state before it reads the stored one.
BREAKER_LOOKUP_SECONDS = 2.0
#: Seconds each stage of the connectivity test may take.
STAGE_TIMEOUT_SECONDS = 10.0
#: How long an OIDC issuer's discovery document is kept (the original's 1 h).
DISCOVERY_TTL_SECONDS = 3600.0
#: Seconds a discovery or token request may take (the original's OIDC client timeout).
TOKEN_REQUEST_TIMEOUT_SECONDS = 30.0
#: Largest discovery document / token endpoint answer read; a larger one is refused.
MAX_DISCOVERY_BYTES = 512 * 1024
MAX_TOKEN_ANSWER_BYTES = 64 * 1024
#: Longest access or refresh token accepted from an issuer.
MAX_TOKEN_CHARS = 16 * 1024
#: Characters kept of an issuer's ``error`` and ``error_description`` in a step's error.
MAX_ISSUER_ERROR_CHARS = 64
MAX_ISSUER_DESCRIPTION_CHARS = 200
#: How long a PATCH waits for the executor actor to forget its cached configuration.
CONFIG_NOTICE_SECONDS = 2.0
#: How long an executor actor holds a supervisor's poll for results (the channel of
#: :mod:`flowker.actors.call_channel`) before it answers with none; the supervisor then polls again.
CHANNEL_POLL_SECONDS = 5.0
#: A channel with no call running that nobody polled for this long is dropped with the results it held
#: (its supervisor is gone: its runs are adopted and call again with the same Idempotency-Key).
CHANNEL_EXPIRY_SECONDS = 60.0
#: How long after its request was sent a caller may use a lease from an executor actor to send a call's
#: first attempt itself (flowker.actors.call_lease): the bound within which a breaker that opened stops
#: every caller's direct attempts. Issue 14 asks for at most 100 ms; a Ray round trip is ~3 ms here.
DIRECT_LEASE_SECONDS = 0.1
#: How often a caller with calls asks for a new lease (with its reports): half the lease's life, so
#: that a steady caller always holds a fresh one and its outcomes reach the breaker within ~50 ms.
DIRECT_LEASE_REFRESH_SECONDS = 0.05
#: A caller stops asking for leases this long after its last call (20 Ray calls at most, then none: an
#: idle configuration costs nothing, and its actor can still exit when idle).
DIRECT_LANE_IDLE_SECONDS = 1.0
#: Reports a caller keeps while its lease requests fail (the actor is gone); older ones are dropped, a
#: verdict lost rather than memory grown without bound. 50 ms of calls at 10k calls/s is 500.
DIRECT_MAX_PENDING_REPORTS = 10_000

# --- The audit trail -------------------------------------------------------------------------
#: How long a request waits for the audit writer before it answers anyway.
PUBLISH_WAIT_SECONDS = 5.0
#: How often the outbox is drained besides the appends that drain it on their way.
OUTBOX_DRAIN_SECONDS = 1.0
#: Events written per store transaction at most.
AUDIT_MAX_BATCH = 2000
#: Events whose Merkle tree nodes one catch-up write adds (events chained before the tree existed).
MERKLE_CATCH_UP_BATCH = 2000
#: Tries of one batch against writers that keep appending first; each try reloads the head.
AUDIT_MAX_ATTEMPTS = 100
#: Events read per store read when the API verifies the log (small reads keep the reader thread's GIL
#: holds short: bench/audit_verify_latency.py).
AUDIT_VERIFY_BATCH = 100
#: Events hashed on the event loop between two yields when the API verifies the log (under a millisecond).
AUDIT_VERIFY_SLICE = 100
#: Events read and written per chunk of the export.
AUDIT_EXPORT_BATCH = 1000
#: Checkpoints read per store read when the log is verified or exported.
CHECKPOINT_PAGE = 100

# --- Ray and the store -----------------------------------------------------------------------
#: Concurrent method calls per actor: executions per supervisor, in-flight calls per executor.
ACTOR_MAX_CONCURRENCY = 100_000
#: Items sent in one call at most.
COALESCE_MAX_ITEMS = 1000
#: Steps whose audit events a supervisor has yet to tell the audit actor of (they are in the store's outbox);
#: beyond, the audit actor's next round chains them.
AUDIT_MAX_POSTED = 50_000
#: Writes committed together at most (group commit).
STORE_MAX_BATCH = 500
#: Seconds a writer waits for another process's transaction before giving up.
BUSY_TIMEOUT_SECONDS = 10.0
#: Seconds a readiness check may take before it counts as down.
READINESS_CHECK_TIMEOUT_SECONDS = 2.0

# --- MongoDB store ---------------------------------------------------------------------------
#: Seconds the driver looks for a usable server before an operation fails (503, /readyz down).
MONGO_SERVER_SELECTION_TIMEOUT_SECONDS = 3.0
#: Seconds to open a connection, and to wait for one answer on an open one.
MONGO_CONNECT_TIMEOUT_SECONDS = 3.0
MONGO_SOCKET_TIMEOUT_SECONDS = 10.0
#: Attempts of a transaction that lost a write conflict to a concurrent one (staging audit events
#: takes the outbox counter, so such transactions conflict under load), and the longest pause between.
MONGO_CONFLICT_ATTEMPTS = 20
MONGO_CONFLICT_MAX_PAUSE = 0.1
#: Attempts of a transaction whose connection broke (a failover), each after the driver's own wait.
MONGO_RECONNECT_ATTEMPTS = 2
#: Attempts of a commit whose outcome is unknown (the connection broke while committing).
MONGO_COMMIT_ATTEMPTS = 3

#: How long the audit actor waits for FLOWKER_AUDIT_CHECKPOINT_URL to take one checkpoint.
AUDIT_CHECKPOINT_POST_TIMEOUT_SECONDS = 10.0

#: Active workflow definitions a front door keeps for starts (one per workflow, least recently used out).
WORKFLOW_CACHE_SIZE = 1024
#: Compiled workflow definitions each supervisor keeps (flowker.dsl.interpreter_cache), one per revision run.
INTERPRETER_CACHE_SIZE = 256
#: Starts retried when the workflow changed between the cache (or a read) and the insert, before a 409.
START_ATTEMPTS = 3

# --- Webhooks ----------------------------------------------------------------------------------
#: A webhook body larger than this is refused (413 FLK-0363), as in the original.
WEBHOOK_MAX_BODY_BYTES = 1024 * 1024
#: Headers in which providers name a delivery, the same on each retry of it (Standard Webhooks / Svix,
#: GitHub, Shopify, generic): the first one present goes into a derived idempotency key.
WEBHOOK_DELIVERY_ID_HEADERS = (
    "Webhook-Id",
    "Svix-Id",
    "X-GitHub-Delivery",
    "X-Shopify-Webhook-Id",
    "X-Webhook-Id",
    "X-Delivery-Id",
)
#: Request headers that never reach an execution's ``_webhook.headers``: credentials.
WEBHOOK_HIDDEN_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "x-api-key", "x-webhook-token", "cookie"}
)

# --- Sandbox (flowker serve --sandbox) -------------------------------------------------------
#: How long a simulated provider holds a ``timeout`` failure before answering 504: longer than the
#: endpoint timeout of every sandbox configuration, so the caller times out first.
SANDBOX_TIMEOUT_HOLD_SECONDS = 30.0

# --- Metrics ---------------------------------------------------------------------------------
#: Seconds a /metrics scrape waits for the actors' snapshots; one that does not answer is counted in
#: flowker_scrape_errors_total and its series keep their last values.
METRICS_SCRAPE_SECONDS = 2.0
#: Seconds after which an actor that stopped answering (exited) is folded into the retired totals.
METRICS_FOLD_AFTER_SECONDS = 600.0

# --- Traces ----------------------------------------------------------------------------------
#: Seconds between exports of the spans a process recorded (OTLP over HTTP, batched).
TRACE_EXPORT_DELAY_SECONDS = 1.0
