"""Eligibility: each rule excludes what it should; the batch path and the online path agree on every application."""

from __future__ import annotations

import numpy as np
import pytest
from _matching_cases import day, partner

from creditmesh.matching import (
    application_from_mapping,
    applications_from_frame,
    eligible_one,
    eligible_pairs,
    load_partners,
)


def _one(**overrides) -> dict:
    base = {
        "application_id": "X1",
        "pd": 0.05,
        "score": 600.0,
        "amount_minor": 500_000,
        "tenor_months": 12,
        "region": "R01",
        "apr": 0.18,
    }
    base.update(overrides)
    return base


@pytest.mark.parametrize(
    "change, rule",
    [
        ({"pd": 0.25}, "pd_above_partner_max"),
        ({"score": 400.0}, "score_below_partner_min"),
        ({"amount_minor": 5_000_000}, "amount_outside_partner_range"),
        ({"amount_minor": 50_000}, "amount_outside_partner_range"),
        ({"tenor_months": 9}, "tenor_not_funded"),
        ({"region": "R09"}, "region_not_served"),
        ({"apr": 0.40}, "apr_outside_partner_range"),
    ],
)
def test_each_rule_excludes_and_names_itself_when_no_partner_fits(change, rule):
    partners = load_partners(
        [partner("P1", min_score=500, min_amount_minor=100_000, regions=["R01", "R02"], apr_max=0.36)]
    )
    eligible, reasons = eligible_one(application_from_mapping(_one()), partners)
    assert list(eligible) == [0] and reasons == ()
    eligible, reasons = eligible_one(application_from_mapping(_one(**change)), partners)
    assert eligible.size == 0 and reasons == (rule,)


def test_a_partner_with_no_regions_serves_every_region_even_unknown_ones():
    partners = load_partners([partner("P1", regions=[]), partner("P2", regions=["R01"])])
    assert list(eligible_one(application_from_mapping(_one(region="R99")), partners)[0]) == [0]
    assert list(eligible_one(application_from_mapping(_one(region="R01")), partners)[0]) == [0, 1]


def test_reasons_come_most_excluding_first():
    partners = load_partners([partner("P1", max_pd=0.01), partner("P2", max_pd=0.01, tenors=[3])])
    assert eligible_one(application_from_mapping(_one()), partners)[1] == (
        "pd_above_partner_max",
        "tenor_not_funded",
    )


def test_batch_pairs_equal_the_online_answer_for_every_application(partners):
    frame = day(700, seed=5, regions=31)
    apps = applications_from_frame(frame)
    pairs = eligible_pairs(apps, partners, chunk=64)  # several chunks
    assert np.all(np.diff(pairs.app) >= 0)
    for i, row in enumerate(frame.to_dict("records")):
        online = eligible_one(application_from_mapping(row), partners)[0]
        assert list(online) == list(pairs.partner[pairs.app == i]), row["application_id"]
    assert 0 < len(pairs) < len(apps) * len(partners)
