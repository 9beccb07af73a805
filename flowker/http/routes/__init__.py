"""Route tables, one module per resource; each handler declares its operation for the OpenAPI document."""

from flowker.http.routes import (
    audit,
    audit_checkpoints,
    audit_proofs,
    dashboards,
    docs,
    executions,
    executors,
    metrics,
    runtime,
    system,
    workflows,
)

#: In the order of the API document.
MODULES = (
    system,
    metrics,
    docs,
    workflows,
    executors,
    executions,
    runtime,
    audit,
    audit_proofs,
    audit_checkpoints,
    dashboards,
)
