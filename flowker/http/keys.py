"""What handlers find on the application, under typed keys."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from flowker.http.metrics_access import MetricsAccess
from flowker.usecases.audit import AuditTrail
from flowker.usecases.catalog import Catalog
from flowker.usecases.dashboards import Dashboards
from flowker.usecases.executions import Executions
from flowker.usecases.executor_configs import ExecutorConfigs
from flowker.usecases.live import LiveExecutions
from flowker.usecases.metrics import Metrics
from flowker.usecases.provider_configs import ProviderConfigs
from flowker.usecases.webhooks import Webhooks
from flowker.usecases.workflows import Workflows

#: A readiness check: returns when the dependency answers, raises when it does not.
ReadinessCheck = Callable[[], Awaitable[None]]


@dataclass
class Services:
    """The use cases and checks the front door calls; built by :mod:`flowker.bootstrap`."""

    workflows: Workflows
    executor_configs: ExecutorConfigs
    executions: Executions
    audit: AuditTrail
    dashboards: Dashboards
    webhooks: Webhooks
    metrics: Metrics
    live: LiveExecutions
    provider_configs: ProviderConfigs
    catalog: Catalog
    readiness: Mapping[str, ReadinessCheck] = field(default_factory=dict)
    draining: bool = False


SERVICES = web.AppKey("services", Services)
STARTED_AT = web.AppKey("started_at", float)
#: The OpenAPI document served at ``/openapi.json`` (generated from the routes, so not imported by them).
OPENAPI_DOCUMENT = web.AppKey("openapi_document", dict)
#: Who may read /metrics (:mod:`flowker.http.metrics_access`).
METRICS_ACCESS = web.AppKey("metrics_access", MetricsAccess)
REQUEST_ID = web.RequestKey("request_id", str)
#: The id of the API key that authenticated the request (never the key itself).
API_KEY_ID = web.RequestKey("api_key_id", str)
