from __future__ import annotations

import copy
from typing import Any

import pytest

from flowker.dsl.mappings import (
    FieldMapping,
    MappingApplyError,
    MappingError,
    MappingPlan,
    PathMissing,
    Transformation,
    compile_mappings,
    get_path,
    parse_path,
    set_path,
)

FIELD = "nodes[kyc-executor].data.inputMapping"

KYC_INPUT_MAPPING: list[dict[str, Any]] = [
    {
        "source": "workflow.customer.cpf",
        "target": "document",
        "required": True,
        "transformation": {"type": "remove_characters", "config": {"characters": ".-"}},
    },
    {
        "source": "workflow.customer.name",
        "target": "fullName",
        "transformation": {"type": "to_uppercase"},
    },
]


def _context() -> dict[str, Any]:
    return {
        "workflow": {
            "customer": {"cpf": "123.456.789-00", "name": "John Doe"},
            "transaction": {"amount": 1500.50},
        }
    }


def _apply(raw: list[dict[str, Any]], document: dict[str, Any]) -> dict[str, Any]:
    return compile_mappings(raw, field=FIELD).apply(document)


def _error(raw: Any) -> str:
    with pytest.raises(MappingError) as caught:
        compile_mappings(raw, field=FIELD)
    assert str(caught.value) == caught.value.message
    return caught.value.message


# --- reference cases -------------------------------------------------------------------------------


def test_kyc_input_mapping() -> None:
    assert _apply(KYC_INPUT_MAPPING, _context()) == {"document": "12345678900", "fullName": "JOHN DOE"}


def test_aml_input_mapping_reads_previous_node_output() -> None:
    context = _context()
    context["kyc-executor"] = {"result": {"customerId": "CUST-001", "riskScore": 25}}
    raw = [
        {"source": "kyc-executor.result.customerId", "target": "customerId", "required": True},
        {"source": "workflow.transaction.amount", "target": "transactionAmount", "required": True},
    ]
    assert _apply(raw, context) == {"customerId": "CUST-001", "transactionAmount": 1500.5}


def test_output_mapping_from_provider_envelope() -> None:
    envelope = {
        "status": 200,
        "headers": {},
        "body": {"customerId": "CUST-001", "riskScore": 25, "status": "approved"},
    }
    raw = [
        {"source": "body.customerId", "target": "result.customerId"},
        {"source": "body.riskScore", "target": "result.riskScore"},
    ]
    assert _apply(raw, envelope) == {"result": {"customerId": "CUST-001", "riskScore": 25}}


def test_multiple_transformations() -> None:
    document = {"workflow": {"cpf": "123.456.789-00", "email": "Test@Example.COM", "name": "Maria Silva"}}
    raw = [
        {
            "source": "workflow.cpf",
            "target": "document",
            "transformation": {"type": "remove_characters", "config": {"characters": ".-"}},
        },
        {"source": "workflow.email", "target": "emailAddress", "transformation": {"type": "to_lowercase"}},
        {"source": "workflow.name", "target": "fullName", "transformation": {"type": "to_uppercase"}},
    ]
    assert _apply(raw, document) == {
        "document": "12345678900",
        "emailAddress": "test@example.com",
        "fullName": "MARIA SILVA",
    }


# --- transformations -------------------------------------------------------------------------------


def test_add_prefix_and_suffix() -> None:
    raw = [
        {
            "source": "id",
            "target": "a",
            "transformation": {"type": "add_prefix", "config": {"prefix": "BR-"}},
        },
        {
            "source": "id",
            "target": "b",
            "transformation": {"type": "add_suffix", "config": {"suffix": "-2025"}},
        },
    ]
    assert _apply(raw, {"id": "42"}) == {"a": "BR-42", "b": "42-2025"}


@pytest.mark.parametrize(
    ("transformation", "value"),
    [
        ({"type": "to_uppercase"}, 1500.5),
        ({"type": "to_lowercase"}, True),
        ({"type": "add_prefix", "config": {"prefix": "X"}}, None),
        ({"type": "remove_characters", "config": {"characters": "1"}}, 121),
        ({"type": "add_suffix", "config": {"suffix": "X"}}, {"nested": "abc"}),
        ({"type": "to_uppercase"}, ["abc"]),
    ],
)
def test_non_string_values_pass_through_unchanged(transformation: dict[str, Any], value: Any) -> None:
    raw = [{"source": "v", "target": "out", "transformation": transformation}]
    assert _apply(raw, {"v": value}) == {"out": value}


def test_transformation_config_drops_unused_keys_and_is_read_only() -> None:
    transformation = Transformation("add_prefix", {"prefix": "P-", "extra": 1})  # type: ignore[dict-item]
    assert dict(transformation.config) == {"prefix": "P-"}
    assert Transformation("to_uppercase").config == {}
    with pytest.raises(TypeError):
        transformation.config["prefix"] = "Q-"  # type: ignore[index]
    assert transformation.apply("x") == "P-x"


def test_remove_characters_removes_every_occurrence_of_each_character() -> None:
    transformation = Transformation("remove_characters", {"characters": " /"})
    assert transformation.apply("12 / 34 / 56") == "123456"


# --- paths -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", ()),
        ("a", ("a",)),
        ("a.b[0].c", ("a", "b", 0, "c")),
        ("items[0].amount", ("items", 0, "amount")),
        ("a.b[2][10]", ("a", "b", 2, 10)),
        ("kyc-executor.result_1.0", ("kyc-executor", "result_1", "0")),
    ],
)
def test_parse_path(path: str, expected: tuple[str | int, ...]) -> None:
    assert parse_path(path) == expected


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "path is empty"),
        ("a..b", "segment 2 is empty"),
        (".a", "segment 1 is empty"),
        ("a.", "segment 2 is empty"),
        ("a[0", "brackets"),
        ("a]0[", "may hold only letters"),
        ("a[0]b", "brackets"),
        ("a[[0]]", "brackets"),
        ("a.[0]", "no name before '['"),
        ("a[-1]", "[-1] in 'a[-1]' is negative"),
        ("a[x]", "[x] in 'a[x]' is not an integer"),
        ("a[]", "is not an integer"),
        ("a b", "may hold only letters"),
        ("$.a", "may hold only letters"),
        ("a" * 201, "201 characters long; at most 200"),
    ],
)
def test_parse_path_rejects(path: str, reason: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_path(path)
    assert reason in str(caught.value)


def test_parse_path_accepts_exactly_200_characters() -> None:
    assert parse_path("a" * 200) == ("a" * 200,)


def test_get_path() -> None:
    document = {"a": {"b": [{"c": 1}, {"c": None}]}, "list": [10, 20]}
    assert get_path(document, "a.b[1].c") is None
    assert get_path(document, "a.b[0].c") == 1
    assert get_path(document, ("list", 1)) == 20
    assert get_path(document, "$") is document
    assert get_path(document, ()) is document


@pytest.mark.parametrize(
    "path",
    ["missing", "a.missing", "a.b[2]", "a.b.c", "list.0", "a.b[0].c.d", "list[0].x", "a[0]"],
)
def test_get_path_missing(path: str) -> None:
    document = {"a": {"b": [{"c": 1}]}, "list": [10]}
    with pytest.raises(PathMissing) as caught:
        get_path(document, path)
    assert repr(path) in str(caught.value)


def test_set_path_creates_intermediates() -> None:
    document: dict[str, Any] = {"keep": 1}
    set_path(document, ("a", "b", 2, "c"), "x")
    set_path(document, ("a", "b", 0), "y")
    set_path(document, ("a", "d"), 5)
    assert document == {"keep": 1, "a": {"b": ["y", None, {"c": "x"}], "d": 5}}


def test_set_path_rejects_wrong_container_and_empty_path() -> None:
    document: dict[str, Any] = {"a": "scalar", "l": [1]}
    with pytest.raises(ValueError, match="'a' is not an object"):
        set_path(document, ("a", "b"), 1)
    with pytest.raises(ValueError, match="'l' is not an object"):
        set_path(document, ("l", "b"), 1)
    with pytest.raises(ValueError, match="whole document"):
        set_path(document, (), 1)
    assert document == {"a": "scalar", "l": [1]}


# --- apply behaviour -------------------------------------------------------------------------------


def test_array_index_in_source_and_target() -> None:
    raw = [
        {"source": "items[1].amount", "target": "amounts[1]"},
        {"source": "items[0].amount", "target": "amounts[0]"},
        {"source": "items[0].tags[0]", "target": "first.tags[0].name"},
    ]
    document = {"items": [{"amount": 10, "tags": ["vip"]}, {"amount": 20}]}
    assert _apply(raw, document) == {"amounts": [10, 20], "first": {"tags": [{"name": "vip"}]}}


def test_sparse_target_index_is_padded_with_none() -> None:
    assert _apply([{"source": "v", "target": "out[2]"}], {"v": "x"}) == {"out": [None, None, "x"]}


def test_dollar_source_copies_whole_document() -> None:
    document = {"a": 1, "b": {"c": [1, 2]}}
    result = _apply([{"source": "$", "target": "payload"}], document)
    assert result == {"payload": {"a": 1, "b": {"c": [1, 2]}}}
    assert result["payload"] is not document


def test_missing_required_source_fails_naming_the_path() -> None:
    context = _context()
    del context["workflow"]["customer"]["cpf"]
    with pytest.raises(MappingApplyError) as caught:
        _apply(KYC_INPUT_MAPPING, context)
    assert caught.value.message == "required source path 'workflow.customer.cpf' is missing"
    assert str(caught.value) == caught.value.message


def test_missing_optional_source_leaves_target_unset() -> None:
    context = _context()
    del context["workflow"]["customer"]["name"]
    assert _apply(KYC_INPUT_MAPPING, context) == {"document": "12345678900"}


def test_null_value_counts_as_present() -> None:
    raw = [{"source": "a", "target": "b", "required": True, "transformation": {"type": "to_uppercase"}}]
    assert _apply(raw, {"a": None}) == {"b": None}


def test_apply_does_not_mutate_input_and_output_is_a_deep_copy() -> None:
    context = _context()
    context["kyc-executor"] = {"result": {"tags": ["a"], "customerId": "C"}}
    snapshot = copy.deepcopy(context)
    plan = compile_mappings(
        [
            {"source": "kyc-executor.result", "target": "result"},
            {"source": "workflow.customer", "target": "customer.info"},
            *KYC_INPUT_MAPPING,
        ],
        field=FIELD,
    )
    result = plan.apply(context)
    assert context == snapshot
    result["result"]["tags"].append("b")
    result["customer"]["info"]["cpf"] = "changed"
    assert context == snapshot
    assert plan.apply(context)["result"] == {"tags": ["a"], "customerId": "C"}


def test_empty_list_gives_empty_plan() -> None:
    plan = compile_mappings([], field=FIELD)
    assert plan == MappingPlan(())
    assert plan.apply(_context()) == {}


def test_compiled_plan_exposes_parsed_mappings() -> None:
    plan = compile_mappings(KYC_INPUT_MAPPING, field=FIELD)
    first, second = plan.mappings
    assert first == FieldMapping(
        "workflow.customer.cpf",
        "document",
        True,
        Transformation("remove_characters", {"characters": ".-"}),
    )
    assert first.source_path == ("workflow", "customer", "cpf")
    assert first.target_path == ("document",)
    assert second.required is False
    assert second.transformation == Transformation("to_uppercase", {})


# --- validation errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, f"{FIELD}: must be a list of mapping objects, got null"),
        ({"source": "a", "target": "b"}, f"{FIELD}: must be a list of mapping objects, got dict"),
        ("a->b", f"{FIELD}: must be a list of mapping objects, got str"),
        ([{"source": "a", "target": "b"}, "a->b"], f"{FIELD}[1]: must be an object, got str"),
        ([["a", "b"]], f"{FIELD}[0]: must be an object, got list"),
        ([{"target": "b"}], f"{FIELD}[0].source: is required"),
        ([{"source": "a"}], f"{FIELD}[0].target: is required"),
        ([{"source": 1, "target": "b"}], f"{FIELD}[0].source: path must be a string, got int"),
        ([{"source": "", "target": "b"}], f"{FIELD}[0].source: path is empty"),
        ([{"source": "a", "target": "$"}], f"{FIELD}[0].target: '$' is not allowed; name the field to write"),
        (
            [{"source": "a", "target": "b", "required": "yes"}],
            f"{FIELD}[0].required: must be a boolean, got str",
        ),
        ([{"source": "a", "target": "out[1001]"}], f"{FIELD}[0].target: array indexes may not exceed 1000"),
    ],
)
def test_structural_errors(raw: Any, expected: str) -> None:
    assert _error(raw) == expected


def test_bad_path_syntax_names_mapping_and_field() -> None:
    raw = [{"source": "a", "target": "b"}, {"source": "a", "target": "x..y"}]
    assert _error(raw) == f"{FIELD}[1].target: invalid path 'x..y': segment 2 is empty"
    raw = [{"source": "items[-1]", "target": "b"}]
    assert (
        _error(raw) == f"{FIELD}[0].source: invalid path 'items[-1]': index [-1] in 'items[-1]' is negative"
    )
    raw = [{"source": "a" * 201, "target": "b"}]
    assert _error(raw) == f"{FIELD}[0].source: path is 201 characters long; at most 200 allowed"


@pytest.mark.parametrize(
    ("transformation", "expected"),
    [
        ("to_uppercase", "transformation: must be an object, got str"),
        ({}, "transformation.type: is required"),
        (
            {"type": "reverse"},
            "transformation.type: unknown transformation 'reverse'; expected one of remove_characters, "
            "add_prefix, add_suffix, to_uppercase, to_lowercase",
        ),
        ({"type": 3}, "transformation.type: unknown transformation 3"),
        (
            {"type": "remove_characters"},
            "transformation.config.characters: is required for remove_characters",
        ),
        ({"type": "remove_characters", "config": {}}, "transformation.config.characters: is required"),
        (
            {"type": "remove_characters", "config": {"characters": ["."]}},
            "transformation.config.characters: must be a string, got list",
        ),
        (
            {"type": "remove_characters", "config": {"characters": "  "}},
            "transformation.config.characters: must not be empty",
        ),
        ({"type": "add_prefix", "config": {"suffix": "x"}}, "transformation.config.prefix: is required"),
        (
            {"type": "add_prefix", "config": {"prefix": 7}},
            "transformation.config.prefix: must be a string, got int",
        ),
        ({"type": "add_suffix", "config": {"suffix": ""}}, "transformation.config.suffix: must not be empty"),
        ({"type": "add_suffix", "config": "x"}, "transformation.config: must be an object, got str"),
    ],
)
def test_transformation_errors(transformation: Any, expected: str) -> None:
    raw = [{"source": "a", "target": "b"}, {"source": "a", "target": "c", "transformation": transformation}]
    assert _error(raw).startswith(f"{FIELD}[1].{expected}")


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        (["a", "b", "a"], "[2].target: 'a' duplicates target 'a' of {field}[0]"),
        (["a", "a.b"], "[1].target: 'a.b' overlaps target 'a' of {field}[0]"),
        (["a.b.c", "a.b"], "[1].target: 'a.b' overlaps target 'a.b.c' of {field}[0]"),
        (["list[0]", "list"], "[1].target: 'list' overlaps target 'list[0]' of {field}[0]"),
        (["x[0]", "x[0]"], "[1].target: 'x[0]' duplicates target 'x[0]' of {field}[0]"),
        (
            ["x[0]", "x.y"],
            "[1].target: 'x.y' needs a different container type than target 'x[0]' of {field}[0]",
        ),
    ],
)
def test_conflicting_targets(targets: list[str], expected: str) -> None:
    raw = [{"source": "s", "target": target} for target in targets]
    assert _error(raw) == FIELD + expected.format(field=FIELD)


def test_sibling_and_indexed_targets_do_not_conflict() -> None:
    raw = [
        {"source": "a", "target": "out.a"},
        {"source": "b", "target": "out.ab"},
        {"source": "c", "target": "list[0].x"},
        {"source": "d", "target": "list[1]"},
        {"source": "e", "target": "list[0].y"},
    ]
    assert _apply(raw, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}) == {
        "out": {"a": 1, "ab": 2},
        "list": [{"x": 3, "y": 5}, 4],
    }


def test_at_most_100_mappings() -> None:
    raw = [{"source": "s", "target": f"t{i}"} for i in range(100)]
    assert len(compile_mappings(raw, field=FIELD).mappings) == 100
    raw.append({"source": "s", "target": "t100"})
    assert _error(raw) == f"{FIELD}: at most 100 mappings allowed, got 101"


def test_constructors_validate_directly() -> None:
    with pytest.raises(ValueError, match=r"^target: invalid path 'a\.'"):
        FieldMapping("s", "a.")
    with pytest.raises(ValueError, match=r"^type: unknown transformation 'trim'"):
        Transformation("trim")
