"""Webhook trigger data: which triggers route a path, how paths are normalised, what a save refuses
(400 FLK-0211), and that the verify token is kept only as a salted hash and answered masked."""

from __future__ import annotations

from typing import Any

import pytest

from flowker.dsl.model import MASK, TOKEN_HASH_KEY, Workflow, WorkflowDefinition
from flowker.dsl.validation import check_draft
from flowker.dsl.webhook_trigger import (
    hash_token,
    normalise_path,
    routes_of,
    seal_tokens,
    token_matches,
)
from flowker.errors import BadRequest


def definition(**data: Any) -> WorkflowDefinition:
    return WorkflowDefinition.model_validate(
        {"name": "hook", "nodes": [{"id": "start", "type": "trigger", "data": data}]}
    )


def webhook(**extra: Any) -> WorkflowDefinition:
    return definition(triggerId="webhook", path="/e2e/webhook-test", method="POST", **extra)


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("/e2e/webhook-test", "/e2e/webhook-test"),
        ("e2e/webhook-test", "/e2e/webhook-test"),
        ("/e2e/webhook-test/", "/e2e/webhook-test"),
        ("/Case/Kept", "/Case/Kept"),
        ("/a:b@c/~x_y.z", "/a:b@c/~x_y.z"),
    ],
)
def test_paths_are_normalised(raw: str, normalised: str) -> None:
    assert normalise_path(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "/",
        "//",
        "/a//b",
        "/a/./b",
        "/a/../b",
        "/..",
        "/a?b=1",
        "/a#x",
        "/a b",
        "/a%2Fb",
        "/é",
        "/" + "a" * 255,
    ],
)
def test_paths_that_cannot_be_routes(raw: str) -> None:
    with pytest.raises(ValueError):
        normalise_path(raw)


@pytest.mark.parametrize(
    "data",
    [
        {"triggerId": "webhook", "path": "/x"},  # no method
        {"triggerId": "webhook", "path": "/x", "method": "HEAD"},
        {"triggerId": "webhook", "path": "/x", "method": 1},
        {"triggerType": "webhook", "path": 7, "method": "POST"},
        {"triggerId": "webhook", "path": "/a/../b", "method": "POST"},
        {"triggerId": "webhook", "path": "/x?y=1", "method": "POST"},
        {"triggerId": "webhook", "path": "/x", "method": "POST", "verify_token": ""},
        {"triggerId": "webhook", "path": "/x", "method": "POST", "verify_token": 12},
        {"triggerId": "webhook", "path": "/x", "method": "POST", "verify_token": "a\nb"},
        {"triggerId": "webhook", "path": "/x", "method": "POST", "verify_token": "t" * 257},
        {"triggerId": "webhook", "path": "/x", "method": "POST", "secret": "no such property"},
    ],
)
def test_an_invalid_webhook_trigger_is_400_flk_0211(data: dict[str, Any]) -> None:
    with pytest.raises(BadRequest) as caught:
        check_draft(definition(**data))
    assert caught.value.code == "FLK-0211"
    assert "nodes[start].data" in caught.value.message


@pytest.mark.parametrize(
    "data",
    [
        {"triggerId": "webhook"},  # the docs' create-workflow example: started by the API only
        {},
        {"triggerType": "schedule", "path": "anything at all", "cron": "* * * * *"},
        {"triggerId": "webhook", "path": "/x", "method": "patch", "verify_token": "s3cret", "name": "n"},
    ],
)
def test_triggers_that_stay_valid(data: dict[str, Any]) -> None:
    check_draft(definition(**data))


def test_only_a_webhook_trigger_with_a_path_has_a_route() -> None:
    assert routes_of(definition(triggerId="webhook"), "w") == []
    assert routes_of(definition(triggerType="schedule", path="/x", method="POST"), "w") == []
    (route,) = routes_of(definition(triggerType="webhook", path="e2e/hook/", method="put"), "w")
    assert (route.method, route.path, route.workflow_id, route.token_hash) == ("PUT", "/e2e/hook", "w", None)


def test_a_token_is_sealed_as_a_salted_hash_and_shown_masked() -> None:
    sent = webhook(verify_token="my-secret-token")
    seal_tokens(sent)
    data = sent.nodes[0].settings
    assert "verify_token" not in data
    assert "my-secret-token" not in str(data)
    assert token_matches(data[TOKEN_HASH_KEY], b"my-secret-token")
    assert not token_matches(data[TOKEN_HASH_KEY], b"my-secret-token ")
    assert not token_matches(data[TOKEN_HASH_KEY], b"")
    # Salted: the same token hashes differently each time.
    assert hash_token("my-secret-token") != hash_token("my-secret-token")
    stored = Workflow.model_validate(
        {**sent.model_dump(), "id": "w", "createdAt": "t", "updatedAt": "t"}
    ).to_output()
    assert stored["nodes"][0]["data"]["verify_token"] == MASK
    assert TOKEN_HASH_KEY not in stored["nodes"][0]["data"]


def test_the_mask_sent_back_keeps_the_token_and_a_new_value_replaces_it() -> None:
    current = webhook(verify_token="first")
    seal_tokens(current)
    kept = current.nodes[0].settings[TOKEN_HASH_KEY]
    again = webhook(verify_token=MASK)
    seal_tokens(again, current)
    assert again.nodes[0].settings[TOKEN_HASH_KEY] == kept
    changed = webhook(verify_token="second")
    seal_tokens(changed, current)
    assert token_matches(changed.nodes[0].settings[TOKEN_HASH_KEY], b"second")
    dropped = webhook()
    seal_tokens(dropped, current)
    assert TOKEN_HASH_KEY not in dropped.nodes[0].settings


def test_the_mask_for_a_node_without_a_token_is_400_and_a_sent_hash_is_dropped() -> None:
    with pytest.raises(BadRequest) as caught:
        seal_tokens(webhook(verify_token=MASK), webhook())
    assert caught.value.code == "FLK-0211"
    forged = webhook(**{TOKEN_HASH_KEY: hash_token("chosen by the client")})
    seal_tokens(forged)
    assert TOKEN_HASH_KEY not in forged.nodes[0].settings
