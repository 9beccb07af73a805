"""The supervisor's compiled definitions: one interpreter per definition content, bounded."""

from __future__ import annotations

from typing import Any

import pytest

from flowker.dsl.interpreter_cache import InterpreterCache
from flowker.dsl.model import WorkflowDefinition


def definition(condition: str = "workflow.amount > 10") -> WorkflowDefinition:
    doc: dict[str, Any] = {
        "name": "cached",
        "nodes": [
            {"id": "start", "type": "trigger"},
            {"id": "check", "type": "conditional", "data": {"condition": condition}},
            {"id": "yes", "type": "action", "data": {"actionType": "set_output", "output": {"ok": True}}},
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "check"},
            {"id": "e2", "source": "check", "target": "yes", "sourceHandle": "true"},
        ],
    }
    return WorkflowDefinition.model_validate(doc)


def test_the_same_content_gets_the_same_interpreter_and_another_content_its_own() -> None:
    cache = InterpreterCache(4)
    first = cache.get(definition())
    # Another object with the same content (the next execution's snapshot, loaded anew).
    assert cache.get(definition()) is first
    other = cache.get(definition("workflow.amount > 20"))
    assert other is not first
    assert len(cache) == 2
    # The cached interpreter decides as a fresh one would.
    decision = first.start({"amount": 11}, "2026-12-02T00:00:00Z")
    assert decision.outcome is not None and decision.outcome.final_output == {"ok": True}


def test_the_least_recently_used_goes_first() -> None:
    cache = InterpreterCache(2)
    a = cache.get(definition("workflow.a > 1"))
    cache.get(definition("workflow.b > 1"))
    assert cache.get(definition("workflow.a > 1")) is a  # a is now the most recent
    cache.get(definition("workflow.c > 1"))  # b goes
    assert len(cache) == 2
    assert cache.get(definition("workflow.a > 1")) is a


def test_a_definition_that_does_not_compile_raises_each_time_and_is_not_kept() -> None:
    cache = InterpreterCache(2)
    broken = definition("workflow.amount >")
    for _ in range(2):
        with pytest.raises(ValueError):
            cache.get(broken)
    assert len(cache) == 0


def test_a_cache_holds_at_least_one() -> None:
    with pytest.raises(ValueError):
        InterpreterCache(0)
