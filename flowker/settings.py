"""Every knob of the service, read once from ``FLOWKER_*`` variables and checked.

Tests build :class:`Settings` directly; only ``flowker serve`` reads the environment.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flowker.domain.api_keys import parse_api_keys
from flowker.domain.signed_note import is_valid_key_name
from flowker.errors import ConfigError, TelemetryRefused
from flowker.tunables import MAX_RESPONSE_BYTES

#: Bodies larger than this are refused with 413 before they are parsed.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Seconds that in-flight requests get to finish after SIGINT/SIGTERM.
DEFAULT_SHUTDOWN_GRACE_SECONDS = 10.0
DEVELOPMENT = "development"
PRODUCTION = "production"
ENVIRONMENTS = (DEVELOPMENT, PRODUCTION)

DEFAULT_AUDIT_LOG_ORIGIN = "flowker.local/audit"

MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")

LOG_FORMATS = ("text", "json")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Settings:
    """The service configuration. ``api_keys`` empty means: use or generate the data directory's key.

    ``api_keys`` holds ``FLOWKER_API_KEYS`` entries (see :mod:`flowker.domain.api_keys`).
    """

    data_dir: Path = Path(".flowker")
    host: str = "127.0.0.1"
    port: int = 4021
    #: ``development`` (the default: plain HTTP allowed) or ``production`` (TLS required).
    environment: str = DEVELOPMENT
    tls_cert: Path | None = None
    tls_key: Path | None = None
    #: Addresses of the TLS-terminating proxies in front; only they are believed about ``X-Forwarded-Proto``.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    #: Hosts, addresses and networks that outbound requests may reach although they are not public (and,
    #: for hosts, over plain http in production mode).
    outbound_allow: tuple[str, ...] = ()
    #: A provider's answer body longer than this fails its step (FLK-0254), unretried.
    max_response_bytes: int = MAX_RESPONSE_BYTES
    api_keys: tuple[str, ...] = ()
    secret_key: str | None = None
    cors_allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    ray_address: str | None = None
    supervisors: int = 2
    #: Executions the front door runs itself at once (the rest go to the supervisors); 0: none.
    front_door_runs: int = 4
    execution_timeout_seconds: float = 300.0
    retry_attempts: int = 5
    retry_backoff_seconds: float = 1.0
    retry_max_delay_seconds: float = 30.0
    retry_after_max_seconds: float = 60.0
    retry_jitter: bool = True
    retry_budget_ratio: float = 0.2
    retry_budget_window_seconds: float = 10.0
    retry_budget_min_retries: int = 10
    breaker_failure_threshold: int = 5
    breaker_open_seconds: float = 30.0
    breaker_half_open_calls: int = 1
    breaker_failure_rate_threshold: float = 50.0
    breaker_sliding_window_size: int = 100
    breaker_minimum_calls: int = 20
    breaker_slow_call_seconds: float = 10.0
    breaker_slow_call_rate_threshold: float = 100.0
    breaker_count_rate_limited: bool = False
    lease_seconds: float = 15.0
    executor_idle_seconds: float = 300.0
    token_refresh_margin_seconds: float = 60.0
    token_max_lifetime_seconds: float = 3600.0
    #: The audit log's signer key string; None: the data directory's ``audit-signing.key``. Never an
    #: actor argument (not in RuntimeConfig).
    audit_signing_key: str | None = field(default=None, repr=False)
    #: The audit log's origin (checkpoints' first line), also its signing key's name.
    audit_log_origin: str = DEFAULT_AUDIT_LOG_ORIGIN
    #: A checkpoint once the tree grew by this many events ...
    audit_checkpoint_events: int = 1000
    #: ... or this many seconds after the last one, if it grew at all.
    audit_checkpoint_seconds: float = 60.0
    #: A file each checkpoint's note is also appended to; None: the database only.
    audit_checkpoint_file: str | None = None
    #: A URL each checkpoint's note is also POSTed to (text/plain); None: not sent anywhere.
    audit_checkpoint_url: str | None = None
    #: ``FLOWKER_MONGO_URI``: the MongoDB store's connection string; None: the embedded store. It may
    #: hold a password: never in a repr, a log line unmasked, or an actor argument (not in RuntimeConfig).
    mongo_uri: str | None = field(default=None, repr=False)
    #: ``FLOWKER_MONGO_DB``: the MongoDB database.
    mongo_db: str = "flowker"
    #: Accept a MongoDB URI without TLS in production mode (FLOWKER_MONGO_ALLOW_INSECURE).
    mongo_allow_insecure: bool = False
    #: FLOWKER_WEBHOOK_DEDUP_SECONDS: a webhook delivery without an Idempotency-Key that repeats one of
    #: up to this many seconds ago (same workflow, method, path, body and delivery id) answers its execution.
    webhook_dedup_seconds: float = 86400.0
    #: ``FLOWKER_SANDBOX`` / ``--sandbox``: serve the simulated providers under ``/sandbox`` and create the
    #: configurations that use them (``docs/sandbox.md``); development mode only.
    sandbox: bool = False
    #: ``FLOWKER_METRICS_KEY``: the key ``GET /metrics`` asks for (Bearer or X-API-Key); None: open in
    #: development, any API key in production.
    metrics_key: str | None = field(default=None, repr=False)
    #: ``FLOWKER_OTEL_ENABLED``: export OpenTelemetry traces (OTLP over HTTP) to ``otel_endpoint``.
    otel_enabled: bool = False
    #: ``FLOWKER_OTEL_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_ENDPOINT``): the OTLP/HTTP collector's base URL.
    otel_endpoint: str | None = None
    #: ``FLOWKER_OTEL_SERVICE_NAME`` (or ``OTEL_SERVICE_NAME``): the traces' ``service.name``.
    otel_service_name: str = "flowker"
    #: ``FLOWKER_LOG_FORMAT``: ``text`` (for a person at a terminal) or ``json`` (one object a line).
    log_format: str = "text"
    #: ``FLOWKER_DIRECT_CALLS``: a call's first attempt with static credentials is sent by the supervisor
    #: itself, under a lease from the executor actor (``docs/architecture.md``, decision 3); off: every
    #: attempt goes through the executor actor.
    direct_calls: bool = True

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is outside 0..65535")
        if self.environment not in ENVIRONMENTS:
            raise ConfigError(f"FLOWKER_ENV={self.environment!r} is not one of {', '.join(ENVIRONMENTS)}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("TLS needs both a certificate and a key (FLOWKER_TLS_CERT and FLOWKER_TLS_KEY)")
        if not is_valid_key_name(self.audit_log_origin):
            raise ConfigError(
                f"FLOWKER_AUDIT_LOG_ORIGIN={self.audit_log_origin!r} must be non-empty, without spaces or '+'"
            )
        if self.production and not self.tls and not self.trusted_proxies:
            raise ConfigError(
                "production mode serves HTTPS only: set FLOWKER_TLS_CERT and FLOWKER_TLS_KEY, or "
                "FLOWKER_TRUSTED_PROXIES to the addresses of the TLS-terminating proxies in front"
            )
        if self.audit_checkpoint_url is not None:
            _check_checkpoint_url(self.audit_checkpoint_url, self.production)
        if self.mongo_uri is not None and not self.mongo_uri.startswith(MONGO_SCHEMES):
            raise ConfigError("FLOWKER_MONGO_URI must start with mongodb:// or mongodb+srv://")
        if self.metrics_key is not None and not _sane_key(self.metrics_key):
            raise ConfigError("FLOWKER_METRICS_KEY must be 16-256 visible ASCII characters")
        if self.otel_enabled and not self.otel_endpoint:
            raise TelemetryRefused(
                "FLOWKER_OTEL_ENABLED is on but no endpoint is set: set FLOWKER_OTEL_ENDPOINT or "
                "OTEL_EXPORTER_OTLP_ENDPOINT"
            )
        if self.otel_endpoint:
            parts = urlsplit(self.otel_endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError("FLOWKER_OTEL_ENDPOINT must be an http:// or https:// URL")
            if parts.username is not None or parts.password is not None or parts.query:
                # It reaches every actor as an argument, which Ray shows: it must hold no credential.
                raise ConfigError("FLOWKER_OTEL_ENDPOINT must hold no credentials (user, password or query)")
        if self.log_format not in LOG_FORMATS:
            raise ConfigError(
                f"FLOWKER_LOG_FORMAT={self.log_format!r} is not one of {', '.join(LOG_FORMATS)}"
            )
        if not _valid_mongo_db(self.mongo_db):
            raise ConfigError(
                f'FLOWKER_MONGO_DB={self.mongo_db!r} must be 1-63 characters, none of /\\. "$ or a space'
            )
        if self.sandbox and self.production:
            raise ConfigError("the sandbox (FLOWKER_SANDBOX, --sandbox) is refused in production mode")

    @property
    def production(self) -> bool:
        """Whether the service runs in production mode."""
        return self.environment == PRODUCTION

    @property
    def sandbox_origin(self) -> tuple[str, int] | None:
        """Where Flowker reaches its own sandbox, ``(host, port)``, once the port is known (not 0)."""
        if not self.sandbox or self.port == 0:
            return None
        return (loopback_for(self.host), self.port)

    @property
    def tls(self) -> bool:
        """Whether the service itself serves HTTPS."""
        return self.tls_cert is not None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read the ``FLOWKER_*`` variables; raise :class:`ConfigError` with a one-line reason."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "data_dir": Path(env.get("FLOWKER_DATA_DIR") or cls.data_dir),
            "host": env.get("FLOWKER_HOST") or cls.host,
            "port": _int(env, "FLOWKER_PORT", cls.port, 0, 65535),
            "environment": (env.get("FLOWKER_ENV") or cls.environment).strip().lower(),
            "tls_cert": _path(env, "FLOWKER_TLS_CERT"),
            "tls_key": _path(env, "FLOWKER_TLS_KEY"),
            "trusted_proxies": _networks(env.get("FLOWKER_TRUSTED_PROXIES", "")),
            "outbound_allow": tuple(
                a.strip() for a in env.get("FLOWKER_OUTBOUND_ALLOW", "").split(",") if a.strip()
            ),
            "api_keys": _api_keys(env.get("FLOWKER_API_KEYS", "")),
            "secret_key": env.get("FLOWKER_SECRET_KEY") or None,
            "cors_allowed_origins": _origins(env.get("FLOWKER_CORS_ALLOWED_ORIGINS", "")),
            "max_body_bytes": _int(env, "FLOWKER_MAX_BODY_BYTES", cls.max_body_bytes, 1024, 64 << 20),
            "max_response_bytes": _int(
                env, "FLOWKER_MAX_RESPONSE_BYTES", cls.max_response_bytes, 1024, 256 << 20
            ),
            "shutdown_grace_seconds": _float(
                env, "FLOWKER_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds, 0.0, 600.0
            ),
            "ray_address": env.get("RAY_ADDRESS") or None,
            "supervisors": _int(env, "FLOWKER_SUPERVISORS", cls.supervisors, 1, 64),
            "front_door_runs": _int(env, "FLOWKER_FRONT_DOOR_RUNS", cls.front_door_runs, 0, 1024),
            "execution_timeout_seconds": _float(
                env, "FLOWKER_EXECUTION_TIMEOUT_SECONDS", cls.execution_timeout_seconds, 1.0, 86400.0
            ),
            "retry_attempts": _int(env, "FLOWKER_RETRY_ATTEMPTS", cls.retry_attempts, 1, 20),
            "retry_backoff_seconds": _float(
                env, "FLOWKER_RETRY_BACKOFF_SECONDS", cls.retry_backoff_seconds, 0.0, 60.0
            ),
            "retry_max_delay_seconds": _float(
                env, "FLOWKER_RETRY_MAX_DELAY_SECONDS", cls.retry_max_delay_seconds, 0.0, 3600.0
            ),
            "retry_after_max_seconds": _float(
                env, "FLOWKER_RETRY_AFTER_MAX_SECONDS", cls.retry_after_max_seconds, 0.0, 3600.0
            ),
            "retry_jitter": _jitter(env, cls.retry_jitter),
            "retry_budget_ratio": _float(
                env, "FLOWKER_RETRY_BUDGET_RATIO", cls.retry_budget_ratio, 0.0, 10.0
            ),
            "retry_budget_window_seconds": _float(
                env, "FLOWKER_RETRY_BUDGET_WINDOW_SECONDS", cls.retry_budget_window_seconds, 1.0, 3600.0
            ),
            "retry_budget_min_retries": _int(
                env, "FLOWKER_RETRY_BUDGET_MIN_RETRIES", cls.retry_budget_min_retries, 0, 100_000
            ),
            "breaker_failure_threshold": _int(
                env, "FLOWKER_BREAKER_FAILURES", cls.breaker_failure_threshold, 1, 1000
            ),
            "breaker_open_seconds": _float(
                env, "FLOWKER_BREAKER_OPEN_SECONDS", cls.breaker_open_seconds, 0.01, 3600.0
            ),
            "breaker_half_open_calls": _int(
                env, "FLOWKER_BREAKER_HALF_OPEN_CALLS", cls.breaker_half_open_calls, 1, 100
            ),
            "breaker_failure_rate_threshold": _float(
                env, "FLOWKER_BREAKER_FAILURE_RATE", cls.breaker_failure_rate_threshold, 1.0, 100.0
            ),
            "breaker_sliding_window_size": _int(
                env, "FLOWKER_BREAKER_WINDOW_SIZE", cls.breaker_sliding_window_size, 1, 1000
            ),
            "breaker_minimum_calls": _int(
                env, "FLOWKER_BREAKER_MINIMUM_CALLS", cls.breaker_minimum_calls, 1, 1000
            ),
            "breaker_slow_call_seconds": _float(
                env, "FLOWKER_BREAKER_SLOW_CALL_SECONDS", cls.breaker_slow_call_seconds, 0.001, 3600.0
            ),
            "breaker_slow_call_rate_threshold": _float(
                env, "FLOWKER_BREAKER_SLOW_CALL_RATE", cls.breaker_slow_call_rate_threshold, 1.0, 100.0
            ),
            "breaker_count_rate_limited": _bool(
                env, "FLOWKER_BREAKER_COUNT_RATE_LIMITED", cls.breaker_count_rate_limited
            ),
            "lease_seconds": _float(env, "FLOWKER_LEASE_SECONDS", cls.lease_seconds, 0.5, 600.0),
            "executor_idle_seconds": _float(
                env, "FLOWKER_EXECUTOR_IDLE_SECONDS", cls.executor_idle_seconds, 1.0, 86400.0
            ),
            "token_refresh_margin_seconds": _float(
                env, "FLOWKER_TOKEN_REFRESH_MARGIN_SECONDS", cls.token_refresh_margin_seconds, 0.0, 3600.0
            ),
            "token_max_lifetime_seconds": _float(
                env, "FLOWKER_TOKEN_MAX_LIFETIME_SECONDS", cls.token_max_lifetime_seconds, 1.0, 86400.0
            ),
            "audit_signing_key": env.get("FLOWKER_AUDIT_SIGNING_KEY") or None,
            "audit_log_origin": env.get("FLOWKER_AUDIT_LOG_ORIGIN", "").strip() or cls.audit_log_origin,
            "audit_checkpoint_events": _int(
                env, "FLOWKER_AUDIT_CHECKPOINT_EVENTS", cls.audit_checkpoint_events, 1, 10_000_000
            ),
            "audit_checkpoint_seconds": _float(
                env, "FLOWKER_AUDIT_CHECKPOINT_SECONDS", cls.audit_checkpoint_seconds, 1.0, 86400.0
            ),
            "audit_checkpoint_file": env.get("FLOWKER_AUDIT_CHECKPOINT_FILE", "").strip() or None,
            "audit_checkpoint_url": env.get("FLOWKER_AUDIT_CHECKPOINT_URL", "").strip() or None,
            "mongo_uri": env.get("FLOWKER_MONGO_URI", "").strip() or None,
            "mongo_db": env.get("FLOWKER_MONGO_DB", "").strip() or cls.mongo_db,
            "mongo_allow_insecure": _bool(env, "FLOWKER_MONGO_ALLOW_INSECURE", cls.mongo_allow_insecure),
            "webhook_dedup_seconds": _float(
                env, "FLOWKER_WEBHOOK_DEDUP_SECONDS", cls.webhook_dedup_seconds, 1.0, 30 * 86400.0
            ),
            "sandbox": _bool(env, "FLOWKER_SANDBOX", cls.sandbox),
            "metrics_key": env.get("FLOWKER_METRICS_KEY") or None,
            "otel_enabled": _bool(env, "FLOWKER_OTEL_ENABLED", cls.otel_enabled),
            "otel_endpoint": (
                env.get("FLOWKER_OTEL_ENDPOINT", "").strip()
                or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
                or None
            ),
            "otel_service_name": (
                env.get("FLOWKER_OTEL_SERVICE_NAME", "").strip()
                or env.get("OTEL_SERVICE_NAME", "").strip()
                or cls.otel_service_name
            ),
            "log_format": (env.get("FLOWKER_LOG_FORMAT") or cls.log_format).strip().lower(),
            "direct_calls": _bool(env, "FLOWKER_DIRECT_CALLS", cls.direct_calls),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def loopback_for(host: str) -> str:
    """The address Flowker's own calls reach it at when it listens on ``host``: a wildcard address
    (every interface) is reached on loopback."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host.lower()


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def _float(env: Mapping[str, str], name: str, default: float, low: float, high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value} is outside {low}..{high}")
    return value


def _jitter(env: Mapping[str, str], default: bool) -> bool:
    raw = env.get("FLOWKER_RETRY_JITTER", "").strip().lower()
    if not raw:
        return default
    if raw not in ("full", "none"):
        raise ConfigError(f"FLOWKER_RETRY_JITTER={raw!r} is not full or none")
    return raw == "full"


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not true or false")


def _api_keys(raw: str) -> tuple[str, ...]:
    entries = tuple(k.strip() for k in raw.split(",") if k.strip())
    parse_api_keys(entries)  # raises ConfigError naming the entry's position, never its value
    return entries


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = env.get(name, "").strip()
    return Path(raw) if raw else None


def _networks(raw: str) -> tuple[IPNetwork, ...]:
    networks = []
    for item in (i.strip() for i in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ConfigError(f"FLOWKER_TRUSTED_PROXIES: {item!r} is not an IP address or network") from None
    return tuple(networks)


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"FLOWKER_CORS_ALLOWED_ORIGINS: {origin!r} is not an http(s) origin")
    return origins


def _valid_mongo_db(name: str) -> bool:
    return 0 < len(name.encode()) < 64 and not any(c in name for c in '/\\. "$\x00')


def _check_checkpoint_url(url: str, production: bool) -> None:
    """An absolute http(s) URL with a host; https in production (the notes are public, but a copy that
    can be altered on its way proves nothing to whoever reads it)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("FLOWKER_AUDIT_CHECKPOINT_URL must be an absolute http:// or https:// URL")
    if production and parts.scheme != "https":
        raise ConfigError("FLOWKER_AUDIT_CHECKPOINT_URL must be https:// in production mode")


def _sane_key(key: str) -> bool:
    return 16 <= len(key) <= 256 and all("\x21" <= c <= "\x7e" for c in key)
