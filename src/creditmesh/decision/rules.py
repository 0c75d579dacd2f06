"""A small expression language for rule conditions, compiled once to a table function and a one-row function.

A condition reads like Python (``age < 18``, ``max_dpd_on_book > 30 and line_utilization >= 0.9``,
``region in ['X', 'Y']``, ``missing(bureau_score)``). It is parsed with :mod:`ast` and only a
whitelist of nodes is accepted: names of fields, number/string/boolean literals, lists or tuples
of literals, ``+ - * /``, comparisons (chains too), ``and`` / ``or`` / ``not`` and the functions
of :data:`FUNCTIONS`. Nothing is ever passed to ``eval``.

Missing values follow SQL's three-valued logic. A field that is absent, ``None`` or NaN is
missing; arithmetic with a missing value (or a division by zero) is missing; a comparison with a
missing value is *unknown*; ``and``/``or``/``not`` follow Kleene's tables (``unknown and false`` is
false, ``unknown or true`` is true, ``not unknown`` is unknown); and a condition that ends unknown
does not hold, as in a SQL ``WHERE``. So ``age < 18`` and ``not (age < 18)`` are both false for
an applicant without an age; write ``missing(age) or age < 18`` to catch the missing case.

Both compiled forms implement exactly these tables, so a rule gives the same answer on a
DataFrame (vectorised over numpy) and on one application (a dict); tests hold them equal.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from creditmesh.errors import CreditmeshError

#: Caps that keep a rule small enough to read and to evaluate in microseconds.
MAX_RULE_CHARS = 2_000
MAX_NODES = 200

#: Functions a rule may call.
FUNCTIONS = ("missing", "present")

_COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_ARITH = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


class RuleError(CreditmeshError):
    """A rule condition that does not parse or uses something outside the language."""


# --------------------------------------------------------------------------------------------------
# Parsing: text → a tree of small frozen nodes (validated once)


@dataclass(frozen=True)
class _Field:
    name: str


@dataclass(frozen=True)
class _Const:
    value: Any  # float, str or bool (booleans compare as 1.0 / 0.0)


@dataclass(frozen=True)
class _Arith:
    op: Callable[[Any, Any], Any]
    left: Any
    right: Any


@dataclass(frozen=True)
class _Compare:
    op: Callable[[Any, Any], Any]
    left: Any
    right: Any


@dataclass(frozen=True)
class _In:
    item: Any
    options: tuple[Any, ...]
    negate: bool


@dataclass(frozen=True)
class _Missing:
    item: Any
    negate: bool


@dataclass(frozen=True)
class _Bool:
    kind: str  # "and" / "or"
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class _Not:
    part: Any


def _literal(node: ast.AST, where: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (bool, int, float, str)):
        value = node.value
        if isinstance(value, bool):
            return _Const(float(value))
        return _Const(float(value) if isinstance(value, (int, float)) else value)
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, (int, float))
        and not isinstance(node.operand.value, bool)
    ):
        return _Const(-float(node.operand.value))
    raise RuleError(where, f"expected a number, string or boolean, got {ast.unparse(node)!r}")


class _Parser:
    def __init__(self, where: str) -> None:
        self.where = where
        self.fields: list[str] = []

    def fail(self, node: ast.AST, what: str) -> RuleError:
        return RuleError(self.where, f"{what}: {ast.unparse(node)!r}")

    def condition(self, node: ast.AST) -> Any:
        if isinstance(node, ast.BoolOp):
            kind = "and" if isinstance(node.op, ast.And) else "or"
            return _Bool(kind, tuple(self.condition(v) for v in node.values))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return _Not(self.condition(node.operand))
        if isinstance(node, ast.Compare):
            parts = []
            left = node.left
            for op, right in zip(node.ops, node.comparators):
                parts.append(self.comparison(left, op, right))
                left = right
            return parts[0] if len(parts) == 1 else _Bool("and", tuple(parts))
        if isinstance(node, ast.Call):
            if (
                not isinstance(node.func, ast.Name)
                or node.func.id not in FUNCTIONS
                or node.keywords
                or len(node.args) != 1
            ):
                raise self.fail(node, f"only {', '.join(f + '(field)' for f in FUNCTIONS)} may be called")
            return _Missing(self.value(node.args[0]), negate=node.func.id == "present")
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return _Compare(operator.eq, _Const(1.0), _Const(float(node.value)))
        if isinstance(node, ast.Name):  # a boolean field on its own: ``delinquent``
            return _Compare(operator.eq, self.value(node), _Const(1.0))
        raise self.fail(node, "not a condition (expected a comparison, and/or/not, or missing(...))")

    def comparison(self, left: ast.AST, op: ast.cmpop, right: ast.AST) -> Any:
        if isinstance(op, (ast.In, ast.NotIn)):
            if not isinstance(right, (ast.List, ast.Tuple, ast.Set)) or not right.elts:
                raise self.fail(right, "'in' needs a non-empty list of literals")
            options = tuple(_literal(e, self.where).value for e in right.elts)
            return _In(self.value(left), options, negate=isinstance(op, ast.NotIn))
        if type(op) not in _COMPARE:
            raise RuleError(self.where, f"operator {type(op).__name__} is not allowed")
        return _Compare(_COMPARE[type(op)], self.value(left), self.value(right))

    def value(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Name):
            if node.id in FUNCTIONS or node.id in ("True", "False", "None"):
                raise self.fail(node, "a reserved word is not a field")
            if node.id not in self.fields:
                self.fields.append(node.id)
            return _Field(node.id)
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
            return _Arith(_ARITH[type(node.op)], self.value(node.left), self.value(node.right))
        if isinstance(node, (ast.Constant, ast.UnaryOp)):
            return _literal(node, self.where)
        raise self.fail(node, "not allowed in a rule (fields, literals and + - * / only)")


def _parse(text: str, where: str) -> tuple[Any, tuple[str, ...]]:
    if not isinstance(text, str) or not text.strip():
        raise RuleError(where, "a rule must be a non-empty string")
    if len(text) > MAX_RULE_CHARS:
        raise RuleError(where, f"a rule is at most {MAX_RULE_CHARS} characters")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise RuleError(where, f"does not parse: {error.msg} in {text!r}") from None
    if sum(1 for _ in ast.walk(tree)) > MAX_NODES:
        raise RuleError(where, f"a rule has at most {MAX_NODES} syntax nodes")
    parser = _Parser(where)
    return parser.condition(tree.body), tuple(parser.fields)


# --------------------------------------------------------------------------------------------------
# One row: values are float, str or None (missing); conditions are True, False or None (unknown)


def scalar_value(value: Any) -> Any:
    """One input as the rule language sees it: a float, a str, or None when missing (None, NaN, NA)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None if _is_na(value) else str(value)
    return None if math.isnan(number) else number


def _is_na(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _blame(node: Any, where: str) -> str:
    """The input a type error is about: the first field the node reads, else the rule itself."""
    if isinstance(node, _Field):
        return node.name
    for part in (getattr(node, "left", None), getattr(node, "right", None)):
        if part is not None and (found := _blame(part, "")):
            return found
    return where


def _order_ok(op: Callable, a: Any, b: Any, blame: str, where: str) -> None:
    if op not in (operator.eq, operator.ne) and isinstance(a, str) != isinstance(b, str):
        raise RuleError(blame, f"cannot order a string and a number ({a!r}, {b!r}) in {where}")


def _scalar_value(node: Any, where: str, assume: Mapping[str, Any]) -> Callable[[Mapping[str, Any]], Any]:
    if isinstance(node, _Const):
        value = node.value
        return lambda row: value
    if isinstance(node, _Field):
        name = node.name
        if name in assume:
            default = assume[name]

            def read_or_assume(row: Mapping[str, Any]) -> Any:
                value = scalar_value(row.get(name))
                return default if value is None else value

            return read_or_assume
        return lambda row: scalar_value(row.get(name))
    left, right, op = (
        _scalar_value(node.left, where, assume),
        _scalar_value(node.right, where, assume),
        node.op,
    )
    blame = _blame(node, where)

    def arith(row: Mapping[str, Any]) -> Any:
        a, b = left(row), right(row)
        if a is None or b is None:
            return None
        if isinstance(a, str) or isinstance(b, str):
            raise RuleError(blame, f"arithmetic needs numbers in {where}")
        if op is operator.truediv and b == 0:
            return None
        return op(a, b)

    return arith


def _scalar_condition(
    node: Any, where: str, assume: Mapping[str, Any]
) -> Callable[[Mapping[str, Any]], bool | None]:
    if isinstance(node, _Compare):
        left, right, op = (
            _scalar_value(node.left, where, assume),
            _scalar_value(node.right, where, assume),
            node.op,
        )
        blame = _blame(node, where)

        def compare(row: Mapping[str, Any]) -> bool | None:
            a, b = left(row), right(row)
            if a is None or b is None:
                return None
            _order_ok(op, a, b, blame, where)
            if isinstance(a, str) != isinstance(b, str):
                return op is operator.ne
            return op(a, b)

        return compare
    if isinstance(node, _In):
        item, options, negate = _scalar_value(node.item, where, assume), frozenset(node.options), node.negate

        def within(row: Mapping[str, Any]) -> bool | None:
            a = item(row)
            if a is None:
                return None
            return (a in options) != negate

        return within
    if isinstance(node, _Missing):
        item, negate = _scalar_value(node.item, where, assume), node.negate
        return lambda row: (item(row) is None) != negate
    if isinstance(node, _Not):
        part = _scalar_condition(node.part, where, assume)

        def negation(row: Mapping[str, Any]) -> bool | None:
            value = part(row)
            return None if value is None else not value

        return negation
    parts = tuple(_scalar_condition(p, where, assume) for p in node.parts)
    decisive = node.kind == "or"  # the value that settles the whole: false for "and", true for "or"

    def combine(row: Mapping[str, Any]) -> bool | None:
        unknown = False
        for part in parts:
            value = part(row)
            if value is decisive:
                return decisive
            unknown |= value is None
        return None if unknown else not decisive

    return combine


# --------------------------------------------------------------------------------------------------
# A table: values are (array, known mask); conditions are (true mask, known mask)


def column_values(frame: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A column as (float64 array or object array of str, known mask); a missing column is all missing."""
    if name not in frame.columns:
        return np.full(len(frame), np.nan), np.zeros(len(frame), bool)
    series = frame[name]
    known = ~series.isna().to_numpy()
    if pd.api.types.is_bool_dtype(series.dtype) or pd.api.types.is_numeric_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), known
    values = series.to_numpy(dtype=object).copy()
    values[~known] = None
    return values, known


def _with_assumed(values: np.ndarray, known: np.ndarray, default: Any) -> tuple[np.ndarray, np.ndarray]:
    """A column with its missing entries replaced by ``default``: every entry known."""
    if isinstance(default, str) or values.dtype == object:
        filled = np.asarray(values, dtype=object).copy()
        filled[~known] = default
    else:
        filled = np.where(known, values, float(default))
    return filled, np.ones(len(values), bool)


def _vector_value(
    node: Any, where: str, assume: Mapping[str, Any]
) -> Callable[[pd.DataFrame, dict], tuple[Any, np.ndarray | bool]]:
    if isinstance(node, _Const):
        value = node.value
        return lambda frame, cache: (value, True)
    if isinstance(node, _Field):
        name = node.name
        key = (name, "assumed") if name in assume else name

        def read(frame: pd.DataFrame, cache: dict) -> tuple[np.ndarray, np.ndarray]:
            if key not in cache:
                cache[key] = column_values(frame, name)
                if name in assume:
                    cache[key] = _with_assumed(*cache[key], assume[name])
            return cache[key]

        return read
    left, right, op = (
        _vector_value(node.left, where, assume),
        _vector_value(node.right, where, assume),
        node.op,
    )
    blame = _blame(node, where)

    def arith(frame: pd.DataFrame, cache: dict) -> tuple[Any, np.ndarray | bool]:
        (a, ka), (b, kb) = left(frame, cache), right(frame, cache)
        if _is_text(a) or _is_text(b):
            if np.any(ka & kb):
                raise RuleError(blame, f"arithmetic needs numbers in {where}")
            return np.nan, False
        with np.errstate(divide="ignore", invalid="ignore"):
            result = op(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        known = ka & kb
        if op is operator.truediv:
            known = known & (np.asarray(b, dtype=np.float64) != 0)
        return result, known

    return arith


def _is_text(values: Any) -> bool:
    return isinstance(values, str) or (isinstance(values, np.ndarray) and values.dtype == object)


def _vector_compare(
    op: Callable, a: Any, b: Any, known: np.ndarray | bool, blame: str, where: str
) -> np.ndarray:
    text_a, text_b = _is_text(a), _is_text(b)
    if text_a == text_b:
        if text_a:  # strings: compare only the known ones (None does not order)
            result = np.zeros(np.broadcast(a, b).shape, bool)
            mask = np.broadcast_to(known, result.shape)
            a_b = np.broadcast_to(np.asarray(a, dtype=object), result.shape)[mask]
            b_b = np.broadcast_to(np.asarray(b, dtype=object), result.shape)[mask]
            try:
                result[mask] = np.fromiter((op(x, y) for x, y in zip(a_b, b_b)), bool, count=a_b.size)
            except TypeError:
                raise RuleError(blame, f"cannot order a string and a number in {where}") from None
            return result
        with np.errstate(invalid="ignore"):
            return op(a, b)
    if op not in (operator.eq, operator.ne):
        if np.any(known):
            raise RuleError(blame, f"cannot order a string and a number in {where}")
    return np.full(
        np.broadcast(np.asarray(a, dtype=object), np.asarray(b, dtype=object)).shape, op is operator.ne
    )


def _vector_condition(
    node: Any, where: str, assume: Mapping[str, Any]
) -> Callable[[pd.DataFrame, dict], tuple[np.ndarray, np.ndarray]]:
    if isinstance(node, _Compare):
        left, right, op = (
            _vector_value(node.left, where, assume),
            _vector_value(node.right, where, assume),
            node.op,
        )
        blame = _blame(node, where)

        def compare(frame: pd.DataFrame, cache: dict) -> tuple[np.ndarray, np.ndarray]:
            (a, ka), (b, kb) = left(frame, cache), right(frame, cache)
            known = np.broadcast_to(ka & kb, (len(frame),))
            return np.broadcast_to(
                _vector_compare(op, a, b, known, blame, where), (len(frame),)
            ) & known, known

        return compare
    if isinstance(node, _In):
        item, negate = _vector_value(node.item, where, assume), node.negate
        numbers = np.array([o for o in node.options if not isinstance(o, str)], dtype=np.float64)
        texts = np.array([o for o in node.options if isinstance(o, str)], dtype=object)

        def within(frame: pd.DataFrame, cache: dict) -> tuple[np.ndarray, np.ndarray]:
            a, known = item(frame, cache)
            known = np.broadcast_to(known, (len(frame),))
            a = np.broadcast_to(np.asarray(a, dtype=object if _is_text(a) else np.float64), (len(frame),))
            found = np.isin(a, texts) if _is_text(a) else np.isin(a, numbers)
            return (found != negate) & known, known

        return within
    if isinstance(node, _Missing):
        item, negate = _vector_value(node.item, where, assume), node.negate

        def missing(frame: pd.DataFrame, cache: dict) -> tuple[np.ndarray, np.ndarray]:
            _, known = item(frame, cache)
            return np.broadcast_to(np.asarray(known) == negate, (len(frame),)), np.ones(len(frame), bool)

        return missing
    if isinstance(node, _Not):
        part = _vector_condition(node.part, where, assume)

        def negation(frame: pd.DataFrame, cache: dict) -> tuple[np.ndarray, np.ndarray]:
            true, known = part(frame, cache)
            return ~true & known, known

        return negation
    parts = tuple(_vector_condition(p, where, assume) for p in node.parts)
    conjunction = node.kind == "and"

    def combine(frame: pd.DataFrame, cache: dict) -> tuple[np.ndarray, np.ndarray]:
        true, known = parts[0](frame, cache)
        false = ~true & known
        for part in parts[1:]:
            t, k = part(frame, cache)
            f = ~t & k
            if conjunction:
                true, false = true & t, false | f
            else:
                true, false = true | t, false & f
        return true, true | false

    return combine


# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A parsed rule: ``holds(row)`` for one application, ``mask(frame)`` for a table. Same answers."""

    text: str
    fields: tuple[str, ...]
    tree: Any = field(repr=False, compare=False)
    _scalar: Callable[[Mapping[str, Any]], bool | None] = field(repr=False, compare=False)
    _vector: Callable[[pd.DataFrame, dict], tuple[np.ndarray, np.ndarray]] = field(repr=False, compare=False)

    def holds(self, row: Mapping[str, Any]) -> bool:
        """True when the condition is true for this application (unknown counts as false)."""
        return self._scalar(row) is True

    def mask(self, frame: pd.DataFrame, cache: dict | None = None) -> np.ndarray:
        """One boolean per row of ``frame``: where the condition is true. ``cache`` shares column reads."""
        true, _ = self._vector(frame, {} if cache is None else cache)
        return np.array(true, dtype=bool)


def compile_rule(text: str, *, where: str = "rule", assume: Mapping[str, Any] | None = None) -> Condition:
    """Parse ``text`` once and compile it; ``where`` names the rule in errors (a policy's field path).

    ``assume`` gives, per field, the value a missing one is read as (a policy's ``missing: {field:
    {assume: value}}``): the condition then never sees that field missing.
    """
    tree, fields = _parse(text, where)
    assumed = {
        name: (value if isinstance(value, str) else float(value))
        for name, value in (assume or {}).items()
        if name in fields
    }
    return Condition(
        text, fields, tree, _scalar_condition(tree, where, assumed), _vector_condition(tree, where, assumed)
    )


# --------------------------------------------------------------------------------------------------
# Analysis: what a condition can do, for ``creditmesh policy check``


def _fields_of(node: Any) -> set[str]:
    if isinstance(node, _Field):
        return {node.name}
    if isinstance(node, (_Compare, _Arith)):
        return _fields_of(node.left) | _fields_of(node.right)
    if isinstance(node, (_In, _Missing)):
        return _fields_of(node.item)
    if isinstance(node, _Not):
        return _fields_of(node.part)
    if isinstance(node, _Bool):
        return set().union(*(_fields_of(p) for p in node.parts))
    return set()


def _kleene(kind: str, a: bool | None, b: bool | None) -> bool | None:
    decisive = kind == "or"
    if a is decisive or b is decisive:
        return decisive
    return None if a is None or b is None else not decisive


def _possible(node: Any, absent: str) -> set[bool | None]:
    """The values ``node`` can take when field ``absent`` is missing and every other field is present."""
    if isinstance(node, _Missing):
        fields = _fields_of(node.item)
        return {(absent in fields) != node.negate} if fields else {node.negate}
    if isinstance(node, (_Compare, _In)):
        fields = _fields_of(node)
        if absent in fields:
            return {None}
        return {True, False} if fields else {_scalar_condition(node, "rule", {})({})}
    if isinstance(node, _Not):
        return {None if v is None else not v for v in _possible(node.part, absent)}
    found = _possible(node.parts[0], absent)
    for part in node.parts[1:]:
        found = {_kleene(node.kind, a, b) for a in found for b in _possible(part, absent)}
    return found


def can_hold_without(condition: Condition, name: str) -> bool:
    """Whether ``condition`` can hold for an application that lacks ``name`` (every other field present).

    ``age < 18`` cannot (a comparison with a missing value is unknown); ``missing(age) or age < 18`` can.
    """
    return True in _possible(condition.tree, name)


def _constants(node: Any, into: dict[str, set[Any]]) -> None:
    """Per field, the constants it is compared with (directly, or as one side of an ``in``)."""
    if isinstance(node, _Compare):
        for a, b in ((node.left, node.right), (node.right, node.left)):
            if isinstance(a, _Field) and isinstance(b, _Const):
                into.setdefault(a.name, set()).add(b.value)
        for side in (node.left, node.right):
            for name in _fields_of(side):
                into.setdefault(name, set())
    elif isinstance(node, _In):
        for name in _fields_of(node.item):
            into.setdefault(name, set()).update(node.options)
    elif isinstance(node, _Missing):
        for name in _fields_of(node.item):
            into.setdefault(name, set())
    elif isinstance(node, _Not):
        _constants(node.part, into)
    elif isinstance(node, _Bool):
        for part in node.parts:
            _constants(part, into)


def telling_values(conditions: Sequence[Condition]) -> dict[str, list[Any]]:
    """Per field the conditions read, the values that tell them apart: each constant it is compared with,
    just below and above it, and missing (None). Exact for comparisons of a field with constants; a
    sample where fields meet in arithmetic."""
    constants: dict[str, set[Any]] = {}
    for condition in conditions:
        _constants(condition.tree, constants)
    values: dict[str, list[Any]] = {}
    for name, found in constants.items():
        numbers = sorted({float(c) for c in found if not isinstance(c, str)})
        texts = sorted(c for c in found if isinstance(c, str))
        candidates: list[Any] = [None]
        for c in numbers:
            candidates += [c - 1, c - 0.5, c, c + 0.5, c + 1]
        candidates += [*texts, "\x00other"] if texts else ([] if numbers else [0.0, 1.0])
        values[name] = list(dict.fromkeys(candidates))
    return values


@dataclass(frozen=True)
class DecisionTable:
    """A first-hit decision table: rows of (condition, outputs); the first row whose condition holds wins.

    The same shape as a GoRules decision table with hit policy "first"; a row whose condition is
    ``None`` always matches (the catch-all last row). No match gives ``default``.
    """

    rows: tuple[tuple[Condition | None, Mapping[str, Any]], ...]
    default: Mapping[str, Any]

    @classmethod
    def build(
        cls,
        rows: Sequence[tuple[str | None, Mapping[str, Any]]],
        default: Mapping[str, Any],
        *,
        where: str = "table",
    ) -> DecisionTable:
        compiled = tuple(
            (None if when is None else compile_rule(when, where=f"{where}[{i}].when"), dict(then))
            for i, (when, then) in enumerate(rows)
        )
        return cls(compiled, dict(default))

    def hit_one(self, row: Mapping[str, Any]) -> int:
        """Index of the first matching row, or -1."""
        for index, (condition, _) in enumerate(self.rows):
            if condition is None or condition.holds(row):
                return index
        return -1

    def decide_one(self, row: Mapping[str, Any]) -> Mapping[str, Any]:
        index = self.hit_one(row)
        return self.default if index < 0 else self.rows[index][1]

    def hits(self, frame: pd.DataFrame) -> np.ndarray:
        """Index of the first matching row per row of ``frame`` (-1 where none)."""
        hit = np.full(len(frame), -1, np.int64)
        open_ = np.ones(len(frame), bool)
        cache: dict = {}
        for index, (condition, _) in enumerate(self.rows):
            match = open_ if condition is None else open_ & condition.mask(frame, cache)
            hit[match] = index
            open_ &= ~match
            if not open_.any():
                break
        return hit

    def decide(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The outputs of the first matching row, one row per input row."""
        hit = self.hits(frame)
        names = list(self.default)
        for _, then in self.rows:
            names += [k for k in then if k not in names]
        out = {}
        for name in names:
            choices = [then.get(name) for _, then in self.rows] + [self.default.get(name)]
            out[name] = np.asarray(choices, dtype=object)[hit]  # -1 picks the default (the last)
        return pd.DataFrame(out, index=frame.index)
