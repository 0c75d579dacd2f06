"""Partner definitions: loaded from the institutions table and from files, contradictions refused with the field named."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from _matching_cases import partner

from creditmesh.matching import PartnerError, fit_acceptance, load_partners


def test_the_simulators_institutions_table_loads_with_defaults_by_funding_model(institutions, tmp_path):
    partners = load_partners(institutions)
    assert len(partners) == institutions.num_rows
    assert list(partners.ids) == institutions["institution_id"].to_pylist()
    assert (partners.capacity_minor == institutions["monthly_capacity_minor"].to_numpy()).all()
    light = partners.model == 2
    assert (
        np.allclose(partners.fee_rate[light], 0.06) and np.isnan(partners.fee_rate[partners.model <= 1]).all()
    )
    pq.write_table(institutions, tmp_path / "institutions.parquet")
    again = load_partners(tmp_path)  # a dataset folder
    assert list(again.ids) == list(partners.ids) and again.partners == partners.partners


def test_yaml_and_json_files_load_the_same_partners(tmp_path):
    records = [
        partner("P1"),
        partner("P2", funding_model="ice", regions=["R01"], fee_rate=0.02, acceptance_rate=0.5),
    ]
    (tmp_path / "p.yaml").write_text(yaml.safe_dump({"partners": records}))
    (tmp_path / "p.json").write_text(json.dumps(records))
    a, b = load_partners(tmp_path / "p.yaml"), load_partners(tmp_path / "p.json")
    assert a.partners == b.partners
    assert a.partners[1].fee_rate == 0.02 and a.acceptance_probability(
        np.array([0.1]), np.array([100_000]), np.array([1])
    )[0] == pytest.approx(0.5)


@pytest.mark.parametrize(
    "change, field, words",
    [
        ({"min_amount_minor": 3_000_000}, "partner P9.min_amount_minor", "above max_amount_minor"),
        ({"monthly_capacity_minor": -1}, "partner P9.monthly_capacity_minor", ">= 0"),
        ({"funding_model": "crowdfunding"}, "partner P9.funding_model", "unknown funding model"),
        ({"apr_min": 0.3, "apr_max": 0.2}, "partner P9.apr_min", "above apr_max"),
        ({"max_pd": 1.5}, "partner P9.max_pd", "between 0 and 1"),
        ({"tenors": []}, "partner P9.tenors", "no tenor"),
        ({"tenors": [12, 0]}, "partner P9.tenors", "whole number of months"),
        ({"max_amount_minor": 1000.5}, "partner P9.max_amount_minor", "integer minor units"),
        ({"max_grade_share": 0}, "partner P9.max_grade_share", "(0, 1]"),
        ({"funding_cost": "high"}, "partner P9.funding_cost", "must be a number"),
        ({"regions": "R01"}, "partner P9.regions", "must be a list"),
    ],
)
def test_a_contradictory_partner_is_refused_naming_partner_and_field(change, field, words):
    with pytest.raises(PartnerError) as error:
        load_partners([partner("P1"), partner("P9", **change)])
    assert error.value.field == field and words in error.value.reason


def test_duplicates_missing_fields_and_bad_files_are_refused(tmp_path):
    with pytest.raises(PartnerError, match="appears twice"):
        load_partners([partner("P1"), partner("P1")])
    record = partner("P1")
    del record["max_pd"]
    with pytest.raises(PartnerError, match="max_pd: is missing"):
        load_partners([record])
    with pytest.raises(PartnerError, match="missing columns"):
        load_partners(pd.DataFrame([partner("P1")]).drop(columns=["tenors"]))
    (tmp_path / "bad.yaml").write_text("partners: [unclosed")
    with pytest.raises(PartnerError, match="not valid YAML"):
        load_partners(tmp_path / "bad.yaml")
    with pytest.raises(PartnerError, match="no such file"):
        load_partners(tmp_path / "none.json")


def test_the_acceptance_model_learns_that_riskier_referrals_are_declined_more():
    partners = load_partners([partner("P1"), partner("P2")])
    rng = np.random.default_rng(0)
    p = rng.uniform(0.0, 0.2, 4000)
    accepted = rng.random(4000) < 1 / (1 + np.exp(-(2.0 - 20.0 * p)))
    outcomes = pd.DataFrame({"institution_id": "P1", "pd": p, "amount_minor": 500_000, "accepted": accepted})
    fitted = fit_acceptance(partners, outcomes)
    low, high = fitted.acceptance_probability(
        np.array([0.01, 0.19]), np.array([500_000, 500_000]), np.array([0, 0])
    )
    assert low > 0.8 and high < 0.2
    assert fitted.partners[1] == partners.partners[1], "a partner without outcomes keeps its constant rate"
