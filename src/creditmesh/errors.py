"""Errors a user can act on: each names the field at fault and the reason.

The command line turns a :class:`CreditmeshError` into one line and exit code 2;
the HTTP service turns it into one 4xx answer. Anything else is a bug.
"""

from __future__ import annotations


class CreditmeshError(Exception):
    """A problem with the input, named by the field (parameter, table.column, ...) and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(field, reason)
        self.field = field
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}"


class ParameterError(CreditmeshError):
    """A parameter is out of its allowed range or inconsistent with another."""


class SchemaError(CreditmeshError):
    """A table is missing, or a column is missing, mistyped, or holds forbidden values."""


class MoneyError(CreditmeshError):
    """An amount is not exact integer minor units, or currencies are mixed."""
