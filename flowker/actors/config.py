"""What every Flowker actor is created with: where the store is and how to behave. Picklable."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuntimeConfig:
    """Options shared by the front door and its actors.

    ``prefix`` keeps the actors of one service apart from another's on a shared cluster (tests give
    every test its own).
    """

    data_dir: str
    secret_key: str
    prefix: str = ""
    supervisors: int = 2
    execution_timeout_seconds: float = 300.0
    retry_attempts: int = 5
    retry_backoff_seconds: float = 1.0
    retry_max_delay_seconds: float = 30.0
    breaker_failure_threshold: int = 5
    breaker_open_seconds: float = 30.0
    breaker_half_open_calls: int = 1
    #: A supervisor's lease on an execution lasts this long unless renewed (every third of it).
    lease_seconds: float = 15.0
    #: An executor actor with no call for this long exits; the next call creates it again.
    executor_idle_seconds: float = 300.0
    #: Crash-test fault injection (:mod:`flowker.actors.faults`); empty in production.
    pause_points: tuple[str, ...] = ()

    def name(self, actor: str) -> str:
        """The actor's name in namespace ``flowker``."""
        return f"{self.prefix}{actor}"
