"""Active workflow definitions cached by the front door, one entry per workflow at the revision read.

A start built from an entry is inserted only while the workflow is still active at that revision (the store
checks it in the same transaction, :meth:`ExecutionRepository.create_or_get`), so an entry can never start
an execution of a definition that has changed or been deactivated, even by another front door: the insert
fails, the entry is dropped and the workflow read again. The cache saves the read and its validation on
every other start. Bounded: the least recently used entry goes first.
"""

from __future__ import annotations

from collections import OrderedDict

from flowker.dsl.interpreter import total_steps
from flowker.dsl.model import Workflow


class DefinitionCache:
    """Workflow id -> (the workflow as read, its step count), least recently used first out."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("the cache holds at least one workflow")
        self._size = size
        self._entries: OrderedDict[str, tuple[Workflow, int]] = OrderedDict()

    def get(self, workflow_id: str) -> Workflow | None:
        entry = self._entries.get(workflow_id)
        if entry is None:
            return None
        self._entries.move_to_end(workflow_id)
        return entry[0]

    def put(self, workflow: Workflow) -> None:
        self._entries[workflow.id] = (workflow, total_steps(workflow))
        self._entries.move_to_end(workflow.id)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def drop(self, workflow_id: str) -> None:
        self._entries.pop(workflow_id, None)

    def total_steps(self, workflow: Workflow) -> int:
        """The step count of ``workflow``, computed once per cached revision."""
        entry = self._entries.get(workflow.id)
        if entry is not None and entry[0] is workflow:
            return entry[1]
        return total_steps(workflow)

    def __len__(self) -> int:
        return len(self._entries)
