"""The workflow definition as clients send it: nodes, edges and their positions on a canvas.

Field names are the original Flowker's (camelCase). These models only check JSON types; the rules
(limits, references, conditions, mappings) live in :mod:`flowker.dsl.validation`, which reports each
failure with its own ``FLK`` code.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

#: What answers show in place of a secret of node data (a webhook trigger's ``verify_token``).
MASK = "********"
#: Where stored node data keeps the hash of a webhook trigger's ``verify_token`` (never the token).
TOKEN_HASH_KEY = "verifyTokenHash"


class NodeType(StrEnum):
    TRIGGER = "trigger"
    EXECUTOR = "executor"
    CONDITIONAL = "conditional"
    ACTION = "action"


# The OpenAPI document shows this docstring.
class WorkflowStatus(StrEnum):
    """`draft --activate--> active --deactivate--> inactive --draft--> draft`.

    Only a draft can be edited; a draft or inactive workflow can be deleted.
    """

    DRAFT = "draft"
    ACTIVE = "active"
    INACTIVE = "inactive"


class _Model(BaseModel):
    # Unknown fields are ignored, as the original does, so that its clients keep working.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Position(_Model):
    x: int | float = 0
    y: int | float = 0


class Node(_Model):
    id: str = ""
    type: str = ""
    name: str | None = None
    position: Position = Field(default_factory=Position)
    data: dict[str, Any] | None = None

    @property
    def settings(self) -> dict[str, Any]:
        """The node's ``data``, or an empty dict when it has none."""
        return self.data or {}


class Edge(_Model):
    id: str = ""
    source: str = ""
    target: str = ""
    sourceHandle: str | None = None
    condition: str | None = None
    label: str | None = None


class WorkflowDefinition(_Model):
    """What a client may write: the body of create and replace."""

    name: str | None = None
    description: str | None = None
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    metadata: dict[str, Any] | None = None

    def node_map(self) -> dict[str, Node]:
        """Nodes by id."""
        return {node.id: node for node in self.nodes}


class Workflow(WorkflowDefinition):
    """A stored workflow: the definition plus identity, status and timestamps."""

    id: str
    name: str
    status: WorkflowStatus = WorkflowStatus.DRAFT
    createdAt: str
    updatedAt: str
    # The store's check-and-set token: every write must name the revision it read.
    revision: int = Field(default=0, exclude=True)

    def to_output(self) -> dict[str, Any]:
        """The API's ``WorkflowOutput``: absent optional fields stay absent, a token is masked."""
        out = self.model_dump(mode="json", exclude_none=True)
        for node in out.get("nodes", []):
            data = node.get("data")
            if isinstance(data, dict) and TOKEN_HASH_KEY in data:
                del data[TOKEN_HASH_KEY]
                data["verify_token"] = MASK
        return out
