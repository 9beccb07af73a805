"""Route tables, one module per resource; each handler declares its operation for the OpenAPI document."""

from flowker.http.routes import (
    audit,
    audit_checkpoints,
    audit_proofs,
    catalog,
    dashboards,
    docs,
    executions,
    executors,
    provider_configs,
    system,
    workflows,
)

#: In the order of the API document.
MODULES = (
    system,
    docs,
    workflows,
    executors,
    executions,
    audit,
    audit_proofs,
    audit_checkpoints,
    dashboards,
    catalog,
    provider_configs,
)
