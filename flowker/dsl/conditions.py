"""The condition language of ``conditional`` nodes and edge conditions.

A condition is parsed once, when its workflow is saved, into a tree of frozen dataclasses, and the tree is
evaluated for every execution against the execution context (a JSON-like dict)::

    kyc-executor.result.riskScore < 50 AND NOT (tracer-validate.body.decision == "DENY" OR blocked)

Grammar (NOT binds tighter than AND, AND tighter than OR)::

    or_expr    := and_expr (OR and_expr)*
    and_expr   := not_expr (AND not_expr)*
    not_expr   := NOT not_expr | '(' or_expr ')' | comparison
    comparison := operand (('==' | '!=' | '<' | '<=' | '>' | '>=') operand)?
    operand    := string | number | true | false | null | path
    path       := segment ('.' segment | '[' digits ']')*     segment := [A-Za-z0-9_][A-Za-z0-9_-]*

Keywords are ``AND OR NOT`` or ``and or not``; ``true false null`` are case-insensitive. An operand alone is
a truthiness test. Numbers and numeric strings compare as decimals, so ``"0.1" == 0.1`` holds.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal
from typing import Any

__all__ = ["Condition", "ConditionEvaluationError", "ConditionSyntaxError", "parse_condition"]

_MAX_LENGTH = 500
_MAX_DEPTH = 32
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*")
_DIGITS = re.compile(r"[0-9]+")
_WORD_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.[")
_OPERATORS = ("==", "!=", "<=", ">=", "<", ">")
_ORDERINGS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
_KEYWORDS = {"AND": "and", "and": "and", "OR": "or", "or": "or", "NOT": "not", "not": "not"}
_CONSTANTS = {"true": True, "false": False, "null": None}
_KINDS = (
    (bool, "boolean"),  # before "number": bool is an int subclass
    (int | float | Decimal, "number"),
    (str, "string"),
    (Mapping, "object"),
    (list | tuple, "list"),
)


class ConditionSyntaxError(ValueError):
    """A condition that does not parse.

    Attributes:
        message: What is wrong.
        position: 0-based character offset in the condition text where it is wrong.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} at position {position}")
        self.message = message
        self.position = position

    def __reduce__(self) -> tuple[Any, ...]:
        # Errors cross process boundaries; the default would call __init__ with str(self) alone.
        return type(self), (self.message, self.position)


class ConditionEvaluationError(ValueError):
    """A condition that cannot be evaluated against a context: a missing field path or a bad comparison.

    Attributes:
        message: What went wrong, naming the field path involved.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _number(value: Any) -> Decimal | None:
    """The value as a Decimal if it is a number (bools excluded) or a numeric string, else None."""
    if isinstance(value, str):
        return Decimal(value) if _NUMBER.fullmatch(value) else None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    # repr() is the shortest round-tripping form: 0.1 becomes Decimal("0.1"), not 0.1000000000000000055...
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    return None if number.is_nan() else number


def _kind(value: Any) -> str:
    """The JSON type name of a value, for equality between types and for error messages."""
    if value is None:
        return "null"
    return next((name for types, name in _KINDS if isinstance(value, types)), type(value).__name__)


def _equal(left: Any, right: Any) -> bool:
    a, b = _number(left), _number(right)
    if a is not None and b is not None:
        return a == b
    # Python's own == says True == 1; JSON values of different types are simply unequal.
    return _kind(left) == _kind(right) and bool(left == right)


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value != "" and value.lower() != "false"
    return bool(value)


@dataclass(frozen=True)
class _Literal:
    text: str
    value: Any

    def resolve(self, context: Mapping[str, Any]) -> Any:
        return self.value


@dataclass(frozen=True)
class _Path:
    text: str
    parts: tuple[str | int, ...]

    def resolve(self, context: Mapping[str, Any]) -> Any:
        value: Any = context
        for depth, part in enumerate(self.parts):
            if isinstance(part, int):
                if not isinstance(value, list | tuple):
                    raise self._missing(depth, f"is not a list ({_kind(value)})")
                if part >= len(value):
                    raise self._missing(depth, f"has no index {part} (length {len(value)})")
            elif not isinstance(value, Mapping):
                raise self._missing(depth, f"is not an object ({_kind(value)})")
            elif part not in value:
                raise self._missing(depth, f"has no field '{part}'")
            value = value[part]
        return value

    def _missing(self, depth: int, why: str) -> ConditionEvaluationError:
        where = f"'{_render(self.parts[:depth])}'" if depth else "the context"
        return ConditionEvaluationError(f"field path '{self.text}' does not exist: {where} {why}")


def _render(parts: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" if i else p for i, p in enumerate(parts))


@dataclass(frozen=True)
class _Compare:
    op: str
    left: _Operand
    right: _Operand

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        left, right = self.left.resolve(context), self.right.resolve(context)
        if self.op in ("==", "!="):
            return _equal(left, right) == (self.op == "==")
        a, b = _number(left), _number(right)
        if a is not None and b is not None:
            return _ORDERINGS[self.op](a, b)
        if isinstance(left, str) and isinstance(right, str):
            return _ORDERINGS[self.op](left, right)
        raise ConditionEvaluationError(
            f"cannot compare {self.left.text} ({_kind(left)}) {self.op} {self.right.text} ({_kind(right)})"
        )


@dataclass(frozen=True)
class _Truth:
    operand: _Operand

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        return _truthy(self.operand.resolve(context))


@dataclass(frozen=True)
class _Not:
    operand: _Node

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        return not self.operand.evaluate(context)


@dataclass(frozen=True)
class _And:
    operands: tuple[_Node, ...]

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        return all(node.evaluate(context) for node in self.operands)


@dataclass(frozen=True)
class _Or:
    operands: tuple[_Node, ...]

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        return any(node.evaluate(context) for node in self.operands)


_Operand = _Literal | _Path
_Node = _Compare | _Truth | _Not | _And | _Or


def _walk_paths(node: Any) -> Iterator[str]:
    if isinstance(node, _Path):
        yield node.text
    elif isinstance(node, tuple):
        for child in node:
            yield from _walk_paths(child)
    elif is_dataclass(node):
        for field in fields(node):
            yield from _walk_paths(getattr(node, field.name))


@dataclass(frozen=True)
class Condition:
    """A parsed condition, ready to be evaluated any number of times.

    Attributes:
        source: The condition text as written.
        root: The root of the syntax tree.
    """

    source: str
    root: _Node

    def evaluate(self, context: Mapping[str, Any]) -> bool:
        """Evaluates the condition against an execution context.

        Args:
            context: The JSON-like execution context that field paths are looked up in.

        Returns:
            Whether the condition holds. AND and OR short-circuit, left to right.

        Raises:
            ConditionEvaluationError: A field path that is evaluated does not exist in the context, or an
                ordering comparison mixes non-numeric types other than two strings.
        """
        return self.root.evaluate(context)

    def paths(self) -> tuple[str, ...]:
        """Every field path the condition references, once each, in order of first appearance."""
        return tuple(dict.fromkeys(_walk_paths(self.root)))


@dataclass(frozen=True)
class _Token:
    kind: str  # "(", ")", "op", "and", "or", "not", "operand" or "end"
    text: str
    position: int
    operand: _Operand | None = None


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        c = text[i]
        number = _NUMBER.match(text, i)
        if c.isspace():
            i += 1
            continue
        if c in "()":
            tokens.append(_Token(c, c, i))
        elif c in "\"'":
            tokens.append(_read_string(text, i))
        elif op := next((op for op in _OPERATORS if text.startswith(op, i)), None):
            tokens.append(_Token("op", op, i))
        elif c in "=!":
            hint = "'=='" if c == "=" else "'!=' or NOT"
            raise ConditionSyntaxError(f"'{c}' is not an operator; use {hint}", i)
        # A number glued to word characters ("2fa-check") is a path, and "-5x" is no operand at all.
        elif number and text[number.end() : number.end() + 1] not in _WORD_CHARS:
            literal = _Literal(number.group(), Decimal(number.group()))
            tokens.append(_Token("operand", literal.text, i, literal))
        elif _SEGMENT.match(text, i):
            tokens.append(_read_word(text, i))
        else:
            raise ConditionSyntaxError(f"unexpected character '{c}'", i)
        i = tokens[-1].position + len(tokens[-1].text)
    tokens.append(_Token("end", "", len(text)))
    return tokens


def _read_string(text: str, start: int) -> _Token:
    quote, chars, i = text[start], [], start + 1
    while i < len(text) and text[i] != quote:
        if text[i] == "\\" and i + 1 < len(text):
            if text[i + 1] not in "\"'\\":
                raise ConditionSyntaxError(f"invalid escape sequence '\\{text[i + 1]}'", i)
            i += 1
        chars.append(text[i])
        i += 1
    if i >= len(text):
        raise ConditionSyntaxError("unterminated string", start)
    source = text[start : i + 1]
    return _Token("operand", source, start, _Literal(source, "".join(chars)))


def _read_word(text: str, start: int) -> _Token:
    parts: list[str | int] = []
    segment = _SEGMENT.match(text, start)
    while segment:
        parts.append(segment.group())
        i = segment.end()
        while text.startswith("[", i):
            index = _DIGITS.match(text, i + 1)
            if index is None:
                raise ConditionSyntaxError("expected a non-negative integer index after '['", i + 1)
            if not text.startswith("]", index.end()):
                raise ConditionSyntaxError("expected ']' after the array index", index.end())
            parts.append(int(index.group()))
            i = index.end() + 1
        if not text.startswith(".", i):
            break
        segment = _SEGMENT.match(text, i + 1)
        if segment is None:
            raise ConditionSyntaxError("expected a field name after '.'", i + 1)
    word = text[start:i]
    if word in _KEYWORDS:
        return _Token(_KEYWORDS[word], word, start)
    if word.lower() in _CONSTANTS:
        return _Token("operand", word, start, _Literal(word, _CONSTANTS[word.lower()]))
    return _Token("operand", word, start, _Path(word, tuple(parts)))


class _Parser:
    """Recursive descent over the tokens; ``depth`` bounds the recursion that parentheses and NOT cause."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.index = 0
        self.depth = 0

    def peek(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        self.index += 1
        return self.tokens[self.index - 1]

    def parse(self) -> _Node:
        node = self.or_expr()
        token = self.peek()
        if token.kind == ")":
            raise ConditionSyntaxError("unbalanced parentheses: ')' has no matching '('", token.position)
        if token.kind != "end":
            raise ConditionSyntaxError(
                f"unexpected '{token.text}'; expected AND, OR or the end of the condition", token.position
            )
        return node

    def or_expr(self) -> _Node:
        operands = [self.and_expr()]
        while self.peek().kind == "or":
            self.take()
            operands.append(self.and_expr())
        return operands[0] if len(operands) == 1 else _Or(tuple(operands))

    def and_expr(self) -> _Node:
        operands = [self.not_expr()]
        while self.peek().kind == "and":
            self.take()
            operands.append(self.not_expr())
        return operands[0] if len(operands) == 1 else _And(tuple(operands))

    def not_expr(self) -> _Node:
        opening = self.peek()
        if opening.kind not in ("not", "("):
            return self.comparison()
        self.take()
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise ConditionSyntaxError(f"nesting deeper than {_MAX_DEPTH} levels", opening.position)
        if opening.kind == "not":
            node: _Node = _Not(self.not_expr())
        else:
            node = self.or_expr()
            closing = self.peek()
            if closing.kind == "end":
                raise ConditionSyntaxError("unbalanced parentheses: '(' is never closed", opening.position)
            if closing.kind != ")":
                raise ConditionSyntaxError(
                    f"unexpected '{closing.text}'; expected AND, OR or ')'", closing.position
                )
            self.take()
        self.depth -= 1
        return node

    def comparison(self) -> _Node:
        left = self.operand()
        if self.peek().kind != "op":
            return _Truth(left)
        op = self.take().text
        return _Compare(op, left, self.operand())

    def operand(self) -> _Operand:
        token = self.peek()
        if token.operand is None:
            after = f" after '{self.tokens[self.index - 1].text}'" if self.index else ""
            raise ConditionSyntaxError(f"expected an operand{after}", token.position)
        self.take()
        return token.operand


def parse_condition(text: str) -> Condition:
    """Parses a condition expression.

    Args:
        text: The condition, at most 500 characters.

    Returns:
        The parsed condition.

    Raises:
        ConditionSyntaxError: The text is empty, too long, too deeply nested or not a valid condition; the
            error carries the 0-based position of the problem.
    """
    if len(text) > _MAX_LENGTH:
        raise ConditionSyntaxError(f"condition longer than {_MAX_LENGTH} characters", _MAX_LENGTH)
    if not text.strip():
        raise ConditionSyntaxError("empty condition", 0)
    return Condition(text, _Parser(_tokenize(text)).parse())
