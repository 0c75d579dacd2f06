"""Parameter rules declared once as data, checked at ``fit``; the message comes from the rule.

scikit-learn's ``_parameter_constraints`` does the same with private helpers; these
three small rules are all our estimators need, and they raise our
:class:`~creditmesh.errors.ParameterError` naming the parameter.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from creditmesh.errors import ParameterError


@dataclass(frozen=True)
class Interval:
    """A number in ``[low, high]`` (either end open with ``closed``), optionally an integer."""

    low: float | None
    high: float | None
    integer: bool = False
    closed: str = "both"  # "both", "left", "right", "neither"

    def check(self, value: Any) -> str | None:
        kind = numbers.Integral if self.integer else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind):
            return f"must be {'an integer' if self.integer else 'a number'}, got {value!r}"
        low_ok = self.low is None or (
            value >= self.low if self.closed in ("both", "left") else value > self.low
        )
        high_ok = self.high is None or (
            value <= self.high if self.closed in ("both", "right") else value < self.high
        )
        if low_ok and high_ok:
            return None
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        low = "-inf" if self.low is None else self.low
        high = "inf" if self.high is None else self.high
        return f"must be in {left}{low}, {high}{right}, got {value!r}"


@dataclass(frozen=True)
class Options:
    """One of a fixed set of values."""

    values: tuple[Any, ...]

    def check(self, value: Any) -> str | None:
        if value in self.values:
            return None
        return f"must be one of {', '.join(repr(v) for v in self.values)}, got {value!r}"


@dataclass(frozen=True)
class OfType:
    """An instance of the given types (``None`` allowed when listed)."""

    types: tuple[type, ...]

    def check(self, value: Any) -> str | None:
        if isinstance(value, self.types):
            return None
        names = ", ".join("None" if t is type(None) else t.__name__ for t in self.types)
        return f"must be of type {names}, got {type(value).__name__}"


def validate_params(owner: str, params: Mapping[str, Any], rules: Mapping[str, tuple]) -> None:
    """Check each parameter against its rules (any one may pass); raise naming the first failure."""
    for name, alternatives in rules.items():
        value = params[name]
        if value is None and None in alternatives:
            continue
        problems = [rule.check(value) for rule in alternatives if rule is not None]
        if problems and all(problems):
            raise ParameterError(
                f"{owner}.{name}", " or ".join(problems) if len(problems) > 1 else problems[0]
            )
