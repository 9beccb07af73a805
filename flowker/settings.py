"""Every knob of the service, read once from ``FLOWKER_*`` variables and checked.

Tests build :class:`Settings` directly; only ``flowker serve`` reads the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from flowker.errors import ConfigError

#: Bodies larger than this are refused with 413 before they are parsed.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Seconds that in-flight requests get to finish after SIGINT/SIGTERM.
DEFAULT_SHUTDOWN_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Settings:
    """The service configuration. ``api_keys`` empty means: use or generate the data directory's key."""

    data_dir: Path = Path(".flowker")
    host: str = "127.0.0.1"
    port: int = 4021
    api_keys: tuple[str, ...] = ()
    secret_key: str | None = None
    cors_allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    ray_address: str | None = None
    supervisors: int = 2
    execution_timeout_seconds: float = 300.0
    retry_attempts: int = 5
    retry_backoff_seconds: float = 1.0
    retry_max_delay_seconds: float = 30.0
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

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port {self.port} is outside 0..65535")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read the ``FLOWKER_*`` variables; raise :class:`ConfigError` with a one-line reason."""
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "data_dir": Path(env.get("FLOWKER_DATA_DIR") or cls.data_dir),
            "host": env.get("FLOWKER_HOST") or cls.host,
            "port": _int(env, "FLOWKER_PORT", cls.port, 0, 65535),
            "api_keys": _api_keys(env.get("FLOWKER_API_KEYS", "")),
            "secret_key": env.get("FLOWKER_SECRET_KEY") or None,
            "cors_allowed_origins": _origins(env.get("FLOWKER_CORS_ALLOWED_ORIGINS", "")),
            "max_body_bytes": _int(env, "FLOWKER_MAX_BODY_BYTES", cls.max_body_bytes, 1024, 64 << 20),
            "shutdown_grace_seconds": _float(
                env, "FLOWKER_SHUTDOWN_GRACE_SECONDS", cls.shutdown_grace_seconds, 0.0, 600.0
            ),
            "ray_address": env.get("RAY_ADDRESS") or None,
            "supervisors": _int(env, "FLOWKER_SUPERVISORS", cls.supervisors, 1, 64),
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
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


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


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r} is not true or false")


#: Shorter keys are refused: an API key guards payment flows, so it must not be guessable.
MIN_API_KEY_LENGTH = 16


def _api_keys(raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for index, key in enumerate(keys, 1):
        if len(key) < MIN_API_KEY_LENGTH:
            raise ConfigError(
                f"FLOWKER_API_KEYS: key #{index} is shorter than {MIN_API_KEY_LENGTH} characters"
            )
    return keys


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ConfigError(f"FLOWKER_CORS_ALLOWED_ORIGINS: {origin!r} is not an http(s) origin")
    return origins
