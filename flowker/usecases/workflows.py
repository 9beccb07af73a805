"""Workflow management: create, read, replace, delete, clone and the status lifecycle.

::

    draft --activate--> active --deactivate--> inactive --draft--> draft
      \\____________ delete (draft or inactive) ____________/

Every status change is a check-and-set on the workflow's revision, so of two concurrent changes
one wins and the other gets 409 FLK-0350.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from flowker.catalog import registry
from flowker.clock import Clock, iso, utc_now
from flowker.codes import (
    INVALID_PROVIDER_CONFIG_REF,
    PROVIDER_EXECUTOR_MISMATCH,
    WORKFLOW_NOT_EDITABLE,
    WORKFLOW_NOT_FOUND,
    WORKFLOW_TRANSITION_NOT_ALLOWED,
)
from flowker.domain.audit import SYSTEM, Actor, AuditAction, AuditEvent, ResourceType
from flowker.domain.executor_config import ExecutorStatus
from flowker.domain.metadata import check_metadata
from flowker.domain.provider_config import ProviderConfigStatus
from flowker.dsl.model import Workflow, WorkflowDefinition, WorkflowStatus
from flowker.dsl.validation import (
    ExecutorRef,
    catalog_bindings,
    check_activation,
    check_draft,
    executor_config_ids,
)
from flowker.dsl.webhook_trigger import masked_data, seal_tokens
from flowker.errors import BadRequest, NotFound, Unprocessable
from flowker.store.ports import ListQuery, Page, Store
from flowker.usecases.catalog import Catalog
from flowker.usecases.outbox import publish
from flowker.usecases.ports import AuditSink

CATALOG_EXECUTORS = frozenset(registry.EXECUTORS)
#: (from, action) -> to. Anything else is 422 FLK-0102.
TRANSITIONS: dict[tuple[WorkflowStatus, str], WorkflowStatus] = {
    (WorkflowStatus.DRAFT, "activate"): WorkflowStatus.ACTIVE,
    (WorkflowStatus.ACTIVE, "deactivate"): WorkflowStatus.INACTIVE,
    (WorkflowStatus.INACTIVE, "draft"): WorkflowStatus.DRAFT,
}
DELETABLE = (WorkflowStatus.DRAFT, WorkflowStatus.INACTIVE)
TRANSITION_EVENTS = {
    "activate": ("WORKFLOW_ACTIVATED", AuditAction.ACTIVATE),
    "deactivate": ("WORKFLOW_DEACTIVATED", AuditAction.DEACTIVATE),
    "draft": ("WORKFLOW_DRAFTED", AuditAction.DRAFT),
}


class Workflows:
    """The workflow use cases over a store."""

    def __init__(self, store: Store, audit: AuditSink, clock: Clock = utc_now) -> None:
        self._store = store
        self._audit = audit
        self._clock = clock

    @staticmethod
    def _event(event_type: str, action: AuditAction, workflow: Workflow, actor: Actor) -> AuditEvent:
        return AuditEvent(
            event_type=event_type,
            action=action,
            resource_type=ResourceType.WORKFLOW,
            resource_id=workflow.id,
            actor=actor,
            metadata={"workflow.name": workflow.name, "workflow.status": workflow.status.value},
        )

    async def _check_definition(self, definition: WorkflowDefinition) -> None:
        """What every saved definition must satisfy, its catalog executor nodes' references included."""
        check_draft(definition, CATALOG_EXECUTORS)
        check_metadata(definition.metadata)
        for node_id, executor_id, config_id in catalog_bindings(definition):
            where = f"nodes[{node_id}].data.providerConfigId"
            config = await self._store.provider_configs.get(config_id) if isinstance(config_id, str) else None
            if config is None:
                raise BadRequest(
                    f"{where} {config_id!r}: no such provider configuration", code=INVALID_PROVIDER_CONFIG_REF
                )
            wanted = registry.EXECUTORS[executor_id].provider_id
            if config.providerId != wanted:
                raise BadRequest(
                    f"{where}: provider configuration {config.name!r} is of provider {config.providerId!r}; "
                    f"executor {executor_id!r} needs one of provider {wanted!r}",
                    code=PROVIDER_EXECUTOR_MISMATCH,
                )

    async def create(
        self, definition: WorkflowDefinition, actor: Actor = SYSTEM, *, tokens_from: Workflow | None = None
    ) -> Workflow:
        """Save a new draft. Raises 400 on an invalid definition, 409 FLK-0101 on a taken name.

        A webhook trigger's ``verify_token`` is kept as its hash only; ``tokens_from`` (a clone's source)
        is the workflow whose hashes a masked token stands for.
        """
        await self._check_definition(definition)
        seal_tokens(definition, tokens_from)
        now = iso(self._clock())
        workflow = _with_definition(
            definition, id=str(uuid.uuid4()), status=WorkflowStatus.DRAFT, createdAt=now, updatedAt=now
        )
        event = self._event("WORKFLOW_CREATED", AuditAction.CREATE, workflow, actor)
        created = await self._store.workflows.create(workflow, [event])
        await publish(self._audit.record, [event])
        return created

    async def from_template(
        self, template_id: str, params: Mapping[str, Any], actor: Actor = SYSTEM
    ) -> Workflow:
        """Build the template's workflow from ``params`` (checked against its paramSchema: 404 FLK-0240,
        400 FLK-0242) and save it as a new draft, as :meth:`create` does."""
        Catalog().validate_template(template_id, params)
        definition = WorkflowDefinition.model_validate(registry.BUILDERS[template_id](params))
        return await self.create(definition, actor)

    async def get(self, workflow_id: str) -> Workflow:
        """The workflow, or 404 FLK-0100."""
        workflow = await self._store.workflows.get(workflow_id)
        if workflow is None:
            raise NotFound(f"workflow {workflow_id} not found", code=WORKFLOW_NOT_FOUND)
        return workflow

    async def list(self, query: ListQuery) -> Page[Workflow]:
        """One page of workflows."""
        return await self._store.workflows.list(query)

    async def replace(
        self, workflow_id: str, definition: WorkflowDefinition, actor: Actor = SYSTEM
    ) -> Workflow:
        """Replace a draft's definition entirely (PUT). Other statuses: 422 FLK-0103."""
        current = await self.get(workflow_id)
        if current.status != WorkflowStatus.DRAFT:
            raise Unprocessable(
                f"workflow is {current.status.value}; only a draft can be edited (move it to draft first)",
                code=WORKFLOW_NOT_EDITABLE,
            )
        await self._check_definition(definition)
        # A verify_token sent back masked (a PUT of what was read) keeps the node's token.
        seal_tokens(definition, current)
        updated = _with_definition(
            definition,
            id=current.id,
            status=current.status,
            createdAt=current.createdAt,
            updatedAt=iso(self._clock()),
            revision=current.revision,
        )
        event = self._event("WORKFLOW_UPDATED", AuditAction.UPDATE, updated, actor)
        replaced = await self._store.workflows.replace(updated, [event])
        await publish(self._audit.record, [event])
        return replaced

    async def delete(self, workflow_id: str, actor: Actor = SYSTEM) -> None:
        """Delete a draft or inactive workflow; an active one is 422 FLK-0103."""
        current = await self.get(workflow_id)
        if current.status not in DELETABLE:
            raise Unprocessable(
                "an active workflow cannot be deleted; deactivate it first", code=WORKFLOW_NOT_EDITABLE
            )
        event = self._event("WORKFLOW_DELETED", AuditAction.DELETE, current, actor)
        await self._store.workflows.delete(current, [event])
        await publish(self._audit.record, [event])

    async def clone(self, workflow_id: str, name: str | None, actor: Actor = SYSTEM) -> Workflow:
        """A new draft with the same definition and metadata under a new name."""
        source = await self.get(workflow_id)
        copy = WorkflowDefinition.model_validate(
            {**source.model_dump(include={"description", "nodes", "edges", "metadata"}), "name": name}
        )
        for node in copy.nodes:  # the copy keeps the source's tokens (their hashes)
            if node.data is not None:
                node.data = masked_data(node.data)
        return await self.create(copy, actor, tokens_from=source)

    async def transition(self, workflow_id: str, action: str, actor: Actor = SYSTEM) -> Workflow:
        """Apply ``activate``, ``deactivate`` or ``draft``; activation first checks the whole graph."""
        current = await self.get(workflow_id)
        target = TRANSITIONS.get((current.status, action))
        if target is None:
            raise Unprocessable(
                f"cannot {action} a workflow that is {current.status.value}",
                code=WORKFLOW_TRANSITION_NOT_ALLOWED,
            )
        activating = target == WorkflowStatus.ACTIVE
        if activating:
            configs = await self._store.executor_configs.get_many(executor_config_ids(current))
            refs = {
                c.id: ExecutorRef(c.id, c.name, c.status == ExecutorStatus.ACTIVE, c.endpoint_names())
                for c in configs.values()
            }
            refs.update(await self._provider_refs(current))
            check_activation(current, refs)
        updated = current.model_copy(update={"status": target, "updatedAt": iso(self._clock())})
        event = self._event(*TRANSITION_EVENTS[action], updated, actor)
        changed = await self._store.workflows.replace(updated, [event], check_executors=activating)
        await publish(self._audit.record, [event])
        return changed

    async def _provider_refs(self, definition: WorkflowDefinition) -> dict[str, ExecutorRef]:
        """The provider configurations its catalog-form nodes name, each with its provider's executors."""
        refs: dict[str, ExecutorRef] = {}
        for _node, _executor, config_id in catalog_bindings(definition):
            if not isinstance(config_id, str) or config_id in refs:
                continue
            config = await self._store.provider_configs.get(config_id)
            if config is not None:
                executors = frozenset(e.id for e in registry.provider_executors(config.providerId))
                refs[config_id] = ExecutorRef(
                    config.id, config.name, config.status == ProviderConfigStatus.ACTIVE, executors
                )
        return refs


def _with_definition(definition: WorkflowDefinition, **identity: object) -> Workflow:
    fields = definition.model_dump(exclude_none=True)
    fields["name"] = (definition.name or "").strip()
    return Workflow.model_validate({**fields, **identity})
