"""The one composition root: builds the use cases and the front door's services."""

from __future__ import annotations

from collections.abc import Mapping

from flowker.clock import Clock, utc_now
from flowker.domain.outbound import OutboundPolicy
from flowker.domain.signed_note import VerifierKey
from flowker.http.keys import ReadinessCheck, Services
from flowker.secretbox import SecretBox
from flowker.settings import Settings
from flowker.store.ports import Store
from flowker.usecases.audit import AuditTrail
from flowker.usecases.catalog import Catalog
from flowker.usecases.dashboards import Dashboards
from flowker.usecases.executions import Executions
from flowker.usecases.executor_configs import ExecutorConfigs
from flowker.usecases.live import LiveExecutions
from flowker.usecases.metrics import Metrics
from flowker.usecases.ports import Runtime
from flowker.usecases.provider_configs import ProviderConfigs
from flowker.usecases.webhooks import Webhooks
from flowker.usecases.workflows import Workflows


def build_services(
    store: Store,
    box: SecretBox,
    runtime: Runtime,
    *,
    execution_timeout_seconds: float,
    clock: Clock = utc_now,
    extra_checks: Mapping[str, ReadinessCheck] | None = None,
    outbound: OutboundPolicy | None = None,
    verifier_key: VerifierKey,
    webhook_dedup_seconds: float = Settings.webhook_dedup_seconds,
) -> Services:
    """The use cases over ``store`` and ``runtime``; readiness checks the store and ``extra_checks``.

    ``verifier_key``: the audit signing key's public half (required: the verify endpoint checks the
    stored checkpoints with it, and ``GET /v1/audit/public-key`` shows it).
    """
    executions = Executions(store, runtime, execution_timeout_seconds, clock)
    provider_configs = ProviderConfigs(store, box, runtime, clock, outbound)
    return Services(
        workflows=Workflows(store, runtime, clock),
        executor_configs=ExecutorConfigs(store, box, runtime, clock, outbound),
        executions=executions,
        webhooks=Webhooks(store, executions, webhook_dedup_seconds, clock),
        audit=AuditTrail(store, runtime, verifier_key),
        dashboards=Dashboards(store),
        metrics=Metrics(runtime),
        live=LiveExecutions(runtime, clock),
        provider_configs=provider_configs,
        catalog=Catalog(provider_configs.active),
        readiness={"store": store.ping, **(extra_checks or {})},
    )
