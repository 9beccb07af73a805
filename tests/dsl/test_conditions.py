from __future__ import annotations

import dataclasses
import pickle
from decimal import Decimal
from typing import Any

import pytest

from flowker.dsl.conditions import (
    Condition,
    ConditionEvaluationError,
    ConditionSyntaxError,
    parse_condition,
)


def evaluate(text: str, context: dict[str, Any]) -> bool:
    return parse_condition(text).evaluate(context)


def syntax_error(text: str) -> ConditionSyntaxError:
    with pytest.raises(ConditionSyntaxError) as info:
        parse_condition(text)
    return info.value


def evaluation_error(text: str, context: dict[str, Any]) -> ConditionEvaluationError:
    condition = parse_condition(text)
    with pytest.raises(ConditionEvaluationError) as info:
        condition.evaluate(context)
    return info.value


# --- reference examples ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "expected"), [(25, True), (85, False), (50, False), (49.99, True)])
def test_reference_risk_score(score: float, expected: bool) -> None:
    context = {"kyc-executor": {"result": {"riskScore": score}}}
    assert evaluate("kyc-executor.result.riskScore < 50", context) is expected


@pytest.mark.parametrize(("decision", "expected"), [("ALLOW", True), ("DENY", False), ("allow", False)])
def test_reference_decision(decision: str, expected: bool) -> None:
    context = {"tracer-validate": {"body": {"decision": decision}}}
    assert evaluate('tracer-validate.body.decision == "ALLOW"', context) is expected


def test_parse_keeps_source_and_is_frozen() -> None:
    condition = parse_condition("  a == 1 ")
    assert isinstance(condition, Condition)
    assert condition.source == "  a == 1 "
    with pytest.raises(dataclasses.FrozenInstanceError):
        condition.source = "b"  # type: ignore[misc]


# --- comparisons ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("x == 50", "50", True),
        ('x == "50"', 50, True),
        ("x == 50", "50.0", True),
        ("x < 1500.50", "1500.5", False),
        ("x <= 1500.50", "1500.5", True),
        ("x == 0.1", 0.1, True),
        ('x == "0.1"', 0.1, True),
        ("x == 0.3", 0.1 + 0.2, False),
        ("x > 9", "10", True),
        ('x > "9"', "10", True),
        ("x >= -5", -5, True),
        ("x > -5", -5.5, False),
        ("x == 1500.5", Decimal("1500.50"), True),
        ("x != 2", 2, False),
        ("x == 1", True, False),
        ("x != 1", True, True),
        ("x == 0", False, False),
        ("x == true", True, True),
        ("x == TRUE", True, True),
        ("x == false", "false", False),
        ('x == "true"', True, False),
        ("x == null", None, True),
        ("x == NULL", None, True),
        ("x != null", 0, True),
        ("x == null", "", False),
        ('x == "abc"', 5, False),
        ('x != "abc"', 5, True),
        ('x < "b"', "a", True),
        ('x >= "b"', "abc", False),
        ('x == "ALLOW"', "ALLOW", True),
        ("x == 'ALLOW'", "ALLOW", True),
        ("x == 10000000000000000000000000001", 10**28 + 1, True),
        ("x == 10000000000000000000000000000", 10**28 + 1, False),
    ],
)
def test_comparison(text: str, value: Any, expected: bool) -> None:
    assert evaluate(text, {"x": value}) is expected


def test_comparison_between_two_paths_and_two_literals() -> None:
    assert evaluate("a > b", {"a": "10", "b": "9"}) is True
    assert evaluate("a == b", {"a": [1, 2], "b": [1, 2]}) is True
    assert evaluate("a == b", {"a": {"k": 1}, "b": {"k": 2}}) is False
    assert evaluate("1 == 1.0", {}) is True
    assert evaluate('"b" > "a"', {}) is True


@pytest.mark.parametrize(
    ("text", "value", "message"),
    [
        ("x < 5", "abc", "cannot compare x (string) < 5 (number)"),
        ("x >= 5", None, "cannot compare x (null) >= 5 (number)"),
        ("x > true", 1, "cannot compare x (number) > true (boolean)"),
        ('x <= "a"', [1], 'cannot compare x (list) <= "a" (string)'),
        ("x > 0", {"a": 1}, "cannot compare x (object) > 0 (number)"),
    ],
)
def test_ordering_of_incomparable_values_is_an_error(text: str, value: Any, message: str) -> None:
    assert evaluation_error(text, {"x": value}).message == message


# --- boolean operators ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("t OR f AND f", True),  # t OR (f AND f)
        ("(t OR f) AND f", False),
        ("f AND f OR t", True),  # (f AND f) OR t
        ("f AND (f OR t)", False),
        ("NOT f AND f", False),  # (NOT f) AND f
        ("NOT (f AND f)", True),
        ("NOT t OR t", True),  # (NOT t) OR t
        ("NOT (t OR t)", False),
        ("NOT NOT t", True),
        ("NOT n == 1", False),  # NOT (n == 1)
        ("NOT n == 2", True),
        ("t and not f or f", True),
        ("f or not t and t", False),
        ("((t))", True),
        ("((t) AND (NOT (f)))", True),
        ("t AND t AND t AND f", False),
        ("f OR f OR f OR t", True),
    ],
)
def test_precedence_not_and_parentheses(text: str, expected: bool) -> None:
    assert evaluate(text, {"t": True, "f": False, "n": 1}) is expected


def test_mixed_case_keyword_is_a_field_path() -> None:
    assert evaluate("And", {"And": 1}) is True
    assert parse_condition("And OR Or").paths() == ("And", "Or")


def test_or_short_circuits_past_a_missing_path() -> None:
    assert evaluate("ok OR missing.path == 1", {"ok": True}) is True
    assert evaluate("ok == 1 OR missing.path", {"ok": 1}) is True


def test_and_short_circuits_past_a_missing_path() -> None:
    assert evaluate("ok AND missing.path == 1", {"ok": False}) is False


def test_missing_path_is_reached_when_not_short_circuited() -> None:
    error = evaluation_error("ok OR missing.path == 1", {"ok": False})
    assert "'missing.path'" in error.message
    error = evaluation_error("ok AND missing.path == 1", {"ok": True})
    assert "'missing.path'" in error.message


# --- truthiness -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (False, False),
        (0, False),
        (0.0, False),
        (Decimal("0"), False),
        ("", False),
        ("false", False),
        ("FALSE", False),
        ("False", False),
        ([], False),
        ({}, False),
        (True, True),
        (1, True),
        (-1, True),
        ("x", True),
        ("0", True),
        ("true", True),
        ([0], True),
        ({"a": None}, True),
    ],
)
def test_truthiness_of_a_field(value: Any, expected: bool) -> None:
    assert evaluate("x", {"x": value}) is expected
    assert evaluate("NOT x", {"x": value}) is (not expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("False", False),
        ("null", False),
        ("0", False),
        ("-1.5", True),
        ('""', False),
        ("'no'", True),
    ],
)
def test_truthiness_of_a_literal(text: str, expected: bool) -> None:
    assert evaluate(text, {}) is expected


# --- field paths ----------------------------------------------------------------------------------------


def test_array_indexes() -> None:
    context = {"items": [{"amount": 10}, {"amount": 20, "tags": ["vip", "new"]}], "matrix": [[1, 2], [3, 4]]}
    assert evaluate("items[0].amount == 10", context) is True
    assert evaluate("items[1].amount > items[0].amount", context) is True
    assert evaluate('items[1].tags[1] == "new"', context) is True
    assert evaluate("matrix[1][0] == 3", context) is True


@pytest.mark.parametrize(
    ("text", "context", "message"),
    [
        ("a.b", {}, "field path 'a.b' does not exist: the context has no field 'a'"),
        ("a.b.c == 1", {"a": {"b": {}}}, "field path 'a.b.c' does not exist: 'a.b' has no field 'c'"),
        ("a.b", {"a": 1}, "field path 'a.b' does not exist: 'a' is not an object (number)"),
        ("a.b", {"a": "text"}, "field path 'a.b' does not exist: 'a' is not an object (string)"),
        ("a[2]", {"a": [1, 2]}, "field path 'a[2]' does not exist: 'a' has no index 2 (length 2)"),
        ("a[0]", {"a": {"0": 1}}, "field path 'a[0]' does not exist: 'a' is not a list (object)"),
        ("a[0]", {"a": "text"}, "field path 'a[0]' does not exist: 'a' is not a list (string)"),
        ("a[0].b", {"a": [{"c": 1}]}, "field path 'a[0].b' does not exist: 'a[0]' has no field 'b'"),
        (
            "x.y[1][0]",
            {"x": {"y": [[], []]}},
            "field path 'x.y[1][0]' does not exist: 'x.y[1]' has no index 0 (length 0)",
        ),
        ("1 < n-1", {"n": 5}, "field path 'n-1' does not exist: the context has no field 'n-1'"),
    ],
)
def test_missing_path_is_an_error_naming_the_path(text: str, context: dict[str, Any], message: str) -> None:
    error = evaluation_error(text, context)
    assert error.message == message
    assert str(error) == message


def test_null_value_at_a_path_exists() -> None:
    assert evaluate("a.b == null", {"a": {"b": None}}) is True


def test_identifiers_with_hyphens_digits_and_underscores() -> None:
    context = {"a-b": 1, "2fa-check": {"passed_ok": True}, "_x": {"y-1": 7}}
    assert evaluate("a-b == 1", context) is True
    assert evaluate("2fa-check.passed_ok", context) is True
    assert evaluate("_x.y-1 == 7", context) is True


def test_negative_number_literal_without_spaces() -> None:
    assert evaluate("x==-5", {"x": -5}) is True
    assert evaluate("x<-5", {"x": -6}) is True
    assert evaluate("-0.5 == x", {"x": -0.5}) is True


def test_keyword_like_segments_inside_a_path_are_fields() -> None:
    context = {"r": {"null": 1, "and": 2, "true": 3}}
    assert evaluate("r.null == 1 AND r.and == 2 AND r.true == 3", context) is True


# --- strings --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('x == "a != b"', "a != b"),
        ("x == 'a != b'", "a != b"),
        ('"x != y" == x', "x != y"),
        ('x == "a == b AND c OR (d"', "a == b AND c OR (d"),
        ('x == "it\'s"', "it's"),
        ("x == 'it\\'s'", "it's"),
        ('x == "say \\"hi\\""', 'say "hi"'),
        ('x == "back\\\\slash"', "back\\slash"),
        ('x == ""', ""),
    ],
)
def test_quoted_strings_do_not_confuse_the_parser(text: str, value: str) -> None:
    assert evaluate(text, {"x": value}) is True
    assert evaluate(text, {"x": value + "!"}) is False


def test_operator_inside_a_string_is_not_split() -> None:
    condition = parse_condition('x != "a != b"')
    assert condition.evaluate({"x": "a"}) is True
    assert condition.evaluate({"x": "a != b"}) is False
    assert condition.paths() == ("x",)


# --- syntax errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "empty condition", 0),
        ("   \t ", "empty condition", 0),
        ('x == "abc', "unterminated string", 5),
        ("x == 'abc\\'", "unterminated string", 5),
        ('x == "a\\', "unterminated string", 5),
        ('x == "a\\nb"', "invalid escape sequence '\\n'", 7),
        ("x ==", "expected an operand after '=='", 4),
        ("x == )", "expected an operand after '=='", 5),
        ("x == AND y", "expected an operand after '=='", 5),
        ("x AND", "expected an operand after 'AND'", 5),
        ("x or or y", "expected an operand after 'or'", 5),
        ("NOT", "expected an operand after 'NOT'", 3),
        ("()", "expected an operand after '('", 1),
        ("AND x", "expected an operand", 0),
        ("== 1", "expected an operand", 0),
        ("(x == 1", "unbalanced parentheses: '(' is never closed", 0),
        ("((x == 1) AND (y)", "unbalanced parentheses: '(' is never closed", 0),
        ("x == 1)", "unbalanced parentheses: ')' has no matching '('", 6),
        ("(x) AND y) OR z", "unbalanced parentheses: ')' has no matching '('", 9),
        ("x == 1 y", "unexpected 'y'; expected AND, OR or the end of the condition", 7),
        ("x == 1 == 2", "unexpected '=='; expected AND, OR or the end of the condition", 7),
        ('x "y"', "unexpected '\"y\"'; expected AND, OR or the end of the condition", 2),
        ("(x y)", "unexpected 'y'; expected AND, OR or ')'", 3),
        ("x = 1", "'=' is not an operator; use '=='", 2),
        ("x ! 1", "'!' is not an operator; use '!=' or NOT", 2),
        ("x & y", "unexpected character '&'", 2),
        ("x == - 5", "unexpected character '-'", 5),
        ("x == -5x", "unexpected character '-'", 5),
        ("x == 1 AND .y", "unexpected character '.'", 11),
        ("x.", "expected a field name after '.'", 2),
        ("x..y", "expected a field name after '.'", 2),
        ("x.-y", "expected a field name after '.'", 2),
        ("x[", "expected a non-negative integer index after '['", 2),
        ("x[a]", "expected a non-negative integer index after '['", 2),
        ("x[-1]", "expected a non-negative integer index after '['", 2),
        ("x[12 == 1", "expected ']' after the array index", 4),
        ("[0] == 1", "unexpected character '['", 0),
    ],
)
def test_syntax_error_kind_and_position(text: str, message: str, position: int) -> None:
    error = syntax_error(text)
    assert (error.message, error.position) == (message, position)
    assert str(error) == f"{message} at position {position}"


def test_syntax_error_is_a_value_error_and_pickles() -> None:
    error = syntax_error("x ==")
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.message, copy.position, str(copy)) == (
        ConditionSyntaxError,
        "expected an operand after '=='",
        4,
        "expected an operand after '==' at position 4",
    )


def test_evaluation_error_is_a_value_error_and_pickles() -> None:
    error = evaluation_error("a", {})
    assert isinstance(error, ValueError)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.message) == (ConditionEvaluationError, error.message)


def test_length_limit() -> None:
    longest = "x == " + '"' + "a" * 493 + '"'
    assert len(longest) == 500
    assert parse_condition(longest).evaluate({"x": "a" * 493}) is True
    error = syntax_error(longest + " ")
    assert (error.message, error.position) == ("condition longer than 500 characters", 500)


# --- depth limit ----------------------------------------------------------------------------------------


def test_nesting_up_to_the_limit_parses() -> None:
    assert evaluate("(" * 32 + "x" + ")" * 32, {"x": 1}) is True
    assert evaluate("NOT " * 32 + "x", {"x": 1}) is True
    assert evaluate("NOT (" * 16 + "x" + ")" * 16, {"x": 1}) is True


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("(" * 33 + "x" + ")" * 33, 32),
        ("(" * 50 + "x" + ")" * 50, 32),
        ("(" * 249 + "x", 32),
        ("NOT " * 33 + "x", 128),
        ("not " * 120 + "x", 128),
        ("NOT (" * 17 + "x" + ")" * 17, 80),  # NOT and '(' are a level each
    ],
)
def test_nesting_beyond_the_limit_is_a_syntax_error(text: str, position: int) -> None:
    error = syntax_error(text)
    assert (error.message, error.position) == ("nesting deeper than 32 levels", position)


def test_long_flat_chains_are_not_nesting() -> None:
    text = " AND ".join(["x"] * 80)
    assert len(text) <= 500
    assert evaluate(text, {"x": 1}) is True
    assert evaluate(" OR ".join(["x"] * 100), {"x": 0}) is False


# --- paths ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "paths"),
    [
        ("kyc-executor.result.riskScore < 50", ("kyc-executor.result.riskScore",)),
        ('b == "a.b" OR NOT (a AND items[0].amount > b)', ("b", "a", "items[0].amount")),
        ("1 == 1 AND true AND null == null", ()),
        ("z OR y AND x", ("z", "y", "x")),
        ("x == x", ("x",)),
    ],
)
def test_paths_in_order_of_first_appearance(text: str, paths: tuple[str, ...]) -> None:
    assert parse_condition(text).paths() == paths


def test_parsed_condition_pickles_and_compares_equal() -> None:
    condition = parse_condition('a.b[1] >= 2 AND NOT (c OR d == "x")')
    copy = pickle.loads(pickle.dumps(condition))
    assert copy == condition
    assert copy.evaluate({"a": {"b": [0, 3]}, "c": False, "d": "y"}) is True
    assert copy.paths() == ("a.b[1]", "c", "d")
