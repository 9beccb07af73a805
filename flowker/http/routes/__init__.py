"""Route tables, one module per resource; each handler declares its operation for the OpenAPI document."""

from flowker.http.routes import (
    audit,
    audit_checkpoints,
    audit_proofs,
    console,
    dashboards,
    docs,
    executions,
    executors,
    system,
    webhooks,
    workflows,
)

#: In the order of the API document.
MODULES = (
    system,
    docs,
    console,
    workflows,
    executors,
    executions,
    audit,
    audit_proofs,
    audit_checkpoints,
    dashboards,
    webhooks,
)
