"""Route tables, one module per resource; each handler declares its operation for the OpenAPI document."""

from flowker.http.routes import (
    audit,
    audit_checkpoints,
    audit_proofs,
    catalog,
    console,
    dashboards,
    docs,
    executions,
    executors,
    metrics,
    provider_configs,
    runtime,
    system,
    webhooks,
    workflows,
)

#: In the order of the API document.
MODULES = (
    system,
    metrics,
    docs,
    console,
    workflows,
    executors,
    executions,
    runtime,
    audit,
    audit_proofs,
    audit_checkpoints,
    dashboards,
    webhooks,
    catalog,
    provider_configs,
)
