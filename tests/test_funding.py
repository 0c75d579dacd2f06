"""Funding models as data: the records, the subsets derived from them, and the checks on a new record."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from creditmesh import funding
from creditmesh.errors import ParameterError
from creditmesh.funding import (
    BY_NAME,
    DELINQUENCY_RATE_MODELS,
    FUNDING_MODELS,
    GUARANTEED_MODELS,
    MODELS,
    ON_BALANCE_MODELS,
    PLATFORM_SERVICE_MODELS,
    RISK_BEARING_MODELS,
    VINTAGE_MODELS,
    check_names,
    get_model,
    names_where,
    sql_in,
)

ON, OFF, LIGHT, ICE, TECH = "capital_heavy_on", "capital_heavy_off", "capital_light", "ice", "tech_solution"
#: The seeds' five models. A model added later comes after them and leaves these pins alone.
SEEDS = (ON, OFF, LIGHT, ICE, TECH)


def _seeds(subset: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(m for m in subset if m in SEEDS)


def test_the_five_models_of_the_seeds_come_first_in_their_code_order():
    assert FUNDING_MODELS[: len(SEEDS)] == SEEDS  # int8 codes and the simulator's draws follow this order
    assert tuple(BY_NAME) == FUNDING_MODELS
    assert all(BY_NAME[m.name] is m for m in MODELS)


def test_each_subset_reads_the_seeds_models_as_the_disclosures_do_today():
    assert _seeds(ON_BALANCE_MODELS) == (ON,)
    assert _seeds(GUARANTEED_MODELS) == (OFF,)
    assert _seeds(RISK_BEARING_MODELS) == (ON, OFF)
    assert _seeds(DELINQUENCY_RATE_MODELS) == (ON, OFF)  # issue 14 may add capital_light: one field
    # "Loans under 'ICE' and total technology solutions are not included in the 30 day+ charts"
    assert _seeds(VINTAGE_MODELS) == (ON, OFF, LIGHT)
    assert _seeds(PLATFORM_SERVICE_MODELS) == (LIGHT, ICE, TECH)


@pytest.mark.parametrize(
    ("subset", "prop"),
    [
        (ON_BALANCE_MODELS, "on_balance_sheet"),
        (GUARANTEED_MODELS, "guarantees"),
        (RISK_BEARING_MODELS, "bears_credit_risk"),
        (DELINQUENCY_RATE_MODELS, "in_delinquency_rate"),
        (VINTAGE_MODELS, "in_vintages"),
        (PLATFORM_SERVICE_MODELS, "platform_service"),
    ],
)
def test_every_subset_is_the_models_with_a_named_property(subset, prop):
    assert subset == tuple(m.name for m in MODELS if getattr(m, prop)) == names_where(prop)


def test_platform_services_and_risk_bearing_models_split_the_book():
    assert set(PLATFORM_SERVICE_MODELS) | set(RISK_BEARING_MODELS) == set(FUNDING_MODELS)
    assert not set(PLATFORM_SERVICE_MODELS) & set(RISK_BEARING_MODELS)


def test_the_simulators_default_volume_shares_sum_to_one():
    assert sum(m.simulated_volume_share for m in MODELS) == pytest.approx(1.0, abs=1e-12)


def test_every_record_is_well_formed():
    for m in MODELS:
        assert m.problems() == [], m.name
        assert m.label and m.label != m.name


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Capital Heavy"}, "name"),
        ({"name": "a_name_longer_than_twenty"}, "name"),
        ({"guarantees": True}, "guarantees"),  # on balance sheet and guaranteed
        ({"platform_service": True}, "platform_service"),  # a service bearing credit risk
        ({"margin_formula": "fee_share"}, "margin_formula"),  # risk borne but not priced
        ({"margin_formula": "spread"}, "margin_formula"),
        ({"fee_income": "insurance"}, "fee_income"),
        ({"default_acceptance_rate": 1.5}, "default_acceptance_rate"),
        ({"simulated_max_pd": (0.3, 0.1)}, "simulated_max_pd"),
        ({"label": ""}, "label"),
    ],
)
def test_a_record_that_contradicts_itself_is_refused_naming_the_field(change, field):
    with pytest.raises(ParameterError) as caught:
        dataclasses.replace(BY_NAME[ON], **change)
    assert caught.value.field.endswith(f".{field}")


def test_records_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        BY_NAME[ON].in_vintages = False  # type: ignore[misc]


def test_an_unknown_name_is_refused_with_the_known_ones():
    assert get_model(ICE).fee_income == "referral"
    with pytest.raises(ParameterError, match="known: capital_heavy_on") as caught:
        get_model("p2p", field="partner.funding_model")
    assert caught.value.field == "partner.funding_model"
    assert check_names(ICE) == (ICE,)
    assert check_names([ON, ICE]) == (ON, ICE)
    with pytest.raises(ParameterError, match="p2p"):
        check_names([ON, "p2p"])


def test_sql_in_writes_the_ledger_check_text():
    assert sql_in("funding_model", SEEDS) == (
        "funding_model IN ('capital_heavy_on', 'capital_heavy_off', 'capital_light', 'ice', 'tech_solution')"
    )
    assert sql_in("l.funding_model", GUARANTEED_MODELS) == "l.funding_model IN ('capital_heavy_off')"
    assert sql_in("funding_model", ()) == "1 = 0"
    with pytest.raises(ParameterError):
        sql_in("funding_model", ["x'); DROP TABLE loans; --"])


def test_funding_is_a_core_module_that_imports_no_box():
    tree = ast.parse(Path(funding.__file__).read_text())
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert {m for m in imported if m.startswith("creditmesh")} <= {"creditmesh.errors"}
