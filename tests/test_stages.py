"""The decision stages are one record each: every list of stages in the code is derived from them."""

import typing

import pytest

from creditmesh.errors import ParameterError
from creditmesh.stages import STAGE_NAMES, STAGES, stage_named


def test_the_stages_in_the_order_a_borrower_meets_them():
    assert STAGE_NAMES == ("credit_line", "drawdown", "line_adjustment")
    assert all(STAGES[name].name == name for name in STAGE_NAMES)


def test_an_unknown_stage_is_refused_naming_the_stages():
    with pytest.raises(ParameterError, match="one of credit_line, drawdown, line_adjustment"):
        stage_named("refinance")


def test_every_stage_has_its_arithmetic_in_the_engine():
    from creditmesh.decision.engine import STAGE_ARITHMETIC

    assert tuple(STAGE_ARITHMETIC) == STAGE_NAMES


def test_the_schema_and_the_service_take_the_stages_from_the_records():
    from creditmesh.api.models import DecisionOut, ReviewOut
    from creditmesh.schema import TABLES

    applications = {c.name: c for c in TABLES["applications"].columns}
    assert applications["stage"].allowed == STAGE_NAMES
    for model in (DecisionOut, ReviewOut):
        assert typing.get_args(model.model_fields["stage"].annotation) == STAGE_NAMES
