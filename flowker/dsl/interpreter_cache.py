"""Compiled interpreters kept per definition: a run reuses what an earlier run of the same definition built.

Compiling a definition (conditions parsed, mappings planned, the graph checked for cycles) cost about a
tenth of a supervisor's CPU per W3 execution, and every execution of one workflow revision carries the
same definition. An :class:`~flowker.dsl.interpreter.Interpreter` holds no run state, so one serves any
number of runs. The key is a digest of the definition's content, not its id: an execution runs the
snapshot it was started with, whatever the workflow has become since. Bounded: the least recently used
entry goes first. A definition that does not compile is not kept (it raises each time).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import orjson

from flowker.dsl.interpreter import Interpreter
from flowker.dsl.model import WorkflowDefinition


class InterpreterCache:
    """Definition digest -> its interpreter, least recently used first out."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("the cache holds at least one interpreter")
        self._size = size
        self._entries: OrderedDict[bytes, Interpreter] = OrderedDict()

    def get(self, definition: WorkflowDefinition) -> Interpreter:
        """The interpreter of ``definition`` (raises ``ValueError`` as :class:`Interpreter` does)."""
        key = _digest(definition)
        interpreter = self._entries.get(key)
        if interpreter is None:
            interpreter = self._entries[key] = Interpreter(definition)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return interpreter

    def __len__(self) -> int:
        return len(self._entries)


def _digest(definition: WorkflowDefinition) -> bytes:
    content = definition.model_dump(mode="json", exclude_unset=False)
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).digest()
