"""What every Flowker actor is created with: where the store is and how to behave. Picklable.

Derived from :class:`~flowker.settings.Settings` (:meth:`RuntimeConfig.from_settings`), which holds
every default: the fields both have are copied, so a knob is declared once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from flowker.domain.outbound import OutboundPolicy
from flowker.settings import Settings
from flowker.store.opening import kind_for


@dataclass(frozen=True)
class RuntimeConfig:
    """Options shared by the front door and its actors.

    ``prefix`` keeps the actors of one service apart from another's on a shared cluster (tests give
    every test its own).
    """

    data_dir: str
    #: ``development`` or ``production`` (:mod:`flowker.actors.outbound` refuses more in production).
    environment: str
    #: ``FLOWKER_OUTBOUND_ALLOW``: destinations allowed although not public.
    outbound_allow: tuple[str, ...]
    #: ``FLOWKER_MAX_RESPONSE_BYTES``: the longest provider answer body kept.
    max_response_bytes: int
    supervisors: int
    #: ``FLOWKER_FRONT_DOOR_RUNS``: executions a front door runs itself at once (the rest: supervisors).
    front_door_runs: int
    execution_timeout_seconds: float
    retry_attempts: int
    retry_backoff_seconds: float
    retry_max_delay_seconds: float
    retry_after_max_seconds: float
    retry_jitter: bool
    retry_budget_ratio: float
    retry_budget_window_seconds: float
    retry_budget_min_retries: int
    breaker_failure_threshold: int
    breaker_open_seconds: float
    breaker_half_open_calls: int
    breaker_failure_rate_threshold: float
    breaker_sliding_window_size: int
    breaker_minimum_calls: int
    breaker_slow_call_seconds: float
    breaker_slow_call_rate_threshold: float
    breaker_count_rate_limited: bool
    #: A supervisor's lease on an execution lasts this long unless renewed (every third of it).
    lease_seconds: float
    #: An executor actor with no call for this long exits; the next call creates it again.
    executor_idle_seconds: float
    #: An OIDC token is renewed this long before it expires (a configuration's cache may say otherwise).
    token_refresh_margin_seconds: float
    #: An OIDC token is kept at most this long, and this long when its issuer gives no ``expires_in``.
    token_max_lifetime_seconds: float
    #: The audit log's origin (its signing key, published apart, is never in this config).
    audit_log_origin: str
    #: A checkpoint every this many new events ...
    audit_checkpoint_events: int
    #: ... or every this many seconds when the log grew.
    audit_checkpoint_seconds: float
    #: A file the checkpoints are also appended to, or None.
    audit_checkpoint_file: str | None
    #: A URL the checkpoints are also POSTed to, or None.
    audit_checkpoint_url: str | None
    #: Which store the actors open (``embedded`` or ``mongodb``); the MongoDB URI, which may hold a
    #: password, is published apart (:mod:`flowker.actors.store_access`), never in this config.
    store_kind: str
    #: The MongoDB database (unused by the embedded store).
    mongo_db: str
    #: Flowker's own sandbox origin ``(host, port)`` in sandbox mode, reached without a warning; else None.
    sandbox_origin: tuple[str, int] | None
    #: OpenTelemetry: whether every actor exports spans, where to (OTLP/HTTP), under which service name.
    otel_enabled: bool
    otel_endpoint: str | None
    otel_service_name: str
    #: ``text`` or ``json`` log lines (FLOWKER_LOG_FORMAT).
    log_format: str
    prefix: str = ""
    #: ``FLOWKER_DIRECT_CALLS``: first attempts with static credentials go direct, under a lease.
    direct_calls: bool = True
    #: Crash-test fault injection (:mod:`flowker.actors.faults`); empty in production.
    pause_points: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, prefix: str = "") -> RuntimeConfig:
        """The runtime part of ``settings`` (the API keys stay behind: no actor needs them)."""
        shared = {f.name for f in dataclasses.fields(cls)} & {f.name for f in dataclasses.fields(Settings)}
        shared -= {"data_dir"}
        return cls(
            data_dir=str(settings.data_dir.resolve()),
            store_kind=kind_for(settings.mongo_uri),
            prefix=prefix,
            sandbox_origin=settings.sandbox_origin,
            **{name: getattr(settings, name) for name in shared},
        )

    def outbound(self) -> OutboundPolicy:
        """The outbound policy of this runtime's provider and issuer requests."""
        return OutboundPolicy.of(self.environment == "production", self.outbound_allow, self.sandbox_origin)

    def name(self, actor: str) -> str:
        """The actor's name in namespace ``flowker``."""
        return f"{self.prefix}{actor}"
