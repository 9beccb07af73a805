"""The one composition root: builds the store, the use cases and the front door's services."""

from __future__ import annotations

from collections.abc import Mapping

from flowker.clock import Clock, utc_now
from flowker.http.keys import ReadinessCheck, Services
from flowker.secretbox import SecretBox
from flowker.store.ports import Store
from flowker.usecases.executor_configs import ExecutorConfigs
from flowker.usecases.workflows import Workflows


def build_services(
    store: Store,
    box: SecretBox,
    *,
    clock: Clock = utc_now,
    extra_checks: Mapping[str, ReadinessCheck] | None = None,
) -> Services:
    """The use cases over ``store``, with readiness checks for the store and anything in ``extra_checks``."""
    return Services(
        workflows=Workflows(store, clock),
        executor_configs=ExecutorConfigs(store, box, clock),
        readiness={"store": store.ping, **(extra_checks or {})},
    )
