"""Schemathesis against the real server: generated requests, valid and not, for every operation of the
OpenAPI document; none may get a 500, an undocumented status or an answer that breaks its schema.

Bounded (a few examples an operation, derandomised) so that it runs in well under a minute.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis.errors import Unsatisfiable

schemathesis = pytest.importorskip("schemathesis")
# a schema-valid request may still break a business rule (a payment dated before its loan, a line's limit):
# those are 4xx answers the schema lists, not failures, so "schema-valid must be accepted" is not checked
from schemathesis.specs.openapi.checks import positive_data_acceptance  # noqa: E402

#: Examples per operation and mode: enough to reach every documented status, few enough for the suite.
EXAMPLES = 15


def _integral_float(value) -> bool:
    """A float with no fraction anywhere in a body: JSON Schema calls 27.0 an integer, the service does not
    (an amount or a count is a JSON integer, never a float token), so such a case proves nothing."""
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, dict):
        return any(_integral_float(v) for v in value.values())
    if isinstance(value, list):
        return any(_integral_float(v) for v in value)
    return False


def test_generated_requests_find_nothing(server, keys):
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    tried = 0
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    for operation, mode in itertools.product(operations, modes):

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            assume(not _integral_float(case.body))
            case.call_and_validate(
                base_url=server,
                headers={"X-API-Key": keys["app"]},
                excluded_checks=[positive_data_acceptance],
            )

        try:
            check()
        except Unsatisfiable:  # nothing to generate in this mode (an operation without parameters, say)
            continue
        tried += 1
    assert tried >= len(operations)
