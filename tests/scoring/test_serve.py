"""One scoring path: a table and one application get the same PD, score, grade and reasons, to the bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests_helpers import application_of

from creditmesh.errors import SchemaError
from creditmesh.scoring import BinningProcess, GBMClassifier, Scorecard
from creditmesh.scoring.serve import MASTER_SCALE, grade_of, grade_one, score_application, score_table


@pytest.fixture(scope="module")
def models(credit):
    X, y = credit
    scorecard = Scorecard(binning=BinningProcess(special_values={"months_late": [98]})).fit(X, y)
    gbm = GBMClassifier(learning_rate=0.1, max_rounds=300, early_stopping=20, num_threads=1).fit(X, y)
    return {"scorecard": scorecard, "gbm": gbm}


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
def test_batch_and_online_agree_on_every_row(models, credit, kind):
    X, _ = credit
    model = models[kind]
    rows = X.head(300)
    table = score_table(model, rows)
    for (_, row), (_, expected) in zip(rows.iterrows(), table.iterrows()):
        one = score_application(model, application_of(row))
        assert one.pd == expected["pd"]
        assert one.score == expected["score"]
        assert one.grade == expected["grade"]
        assert one.reasons == expected["reasons"]


application = st.fixed_dictionaries(
    {
        "income": st.one_of(st.none(), st.floats(0, 1e7, allow_nan=False)),
        "utilisation": st.floats(-1, 3, allow_nan=False),
        "age": st.floats(10, 110, allow_nan=False),
        "months_late": st.one_of(st.sampled_from([0.0, 1.0, 3.0, 98.0]), st.floats(0, 200, allow_nan=False)),
        "channel": st.one_of(
            st.none(), st.sampled_from(["app", "embedded", "partner", "offline", "kiosk", "never-seen"])
        ),
        "has_car": st.booleans(),
    }
)


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(apps=st.lists(application, min_size=1, max_size=8))
def test_any_application_scores_the_same_alone_and_in_a_table(models, kind, apps):
    model = models[kind]
    frame = pd.DataFrame(apps).astype({"income": float, "channel": object})
    table = score_table(model, frame)
    for app, (_, expected) in zip(apps, table.iterrows()):
        one = score_application(model, app)
        assert (one.pd, one.score, one.grade, one.reasons) == (
            expected["pd"],
            expected["score"],
            expected["grade"],
            expected["reasons"],
        )


def test_grades_follow_the_master_scale():
    bounds = [b for _, b in MASTER_SCALE]
    probes = np.array([0.0, bounds[0], np.nextafter(bounds[0], 1), 0.03, 0.5, 1.0])
    assert list(grade_of(probes)) == [grade_one(p) for p in probes] == ["A", "A", "B", "D", "G", "G"]


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
def test_a_missing_feature_or_text_for_a_number_is_refused_naming_it(models, credit, kind):
    X, _ = credit
    app = application_of(X.iloc[0])
    del app["age"]
    with pytest.raises(SchemaError, match="age"):
        score_application(models[kind], app)
    with pytest.raises(SchemaError, match="age"):
        score_application(models[kind], {**application_of(X.iloc[0]), "age": "forty"})
    with pytest.raises(SchemaError, match="age"):
        score_table(models[kind], X.drop(columns="age"))


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
def test_leaving_out_reasons_changes_nothing_else(models, credit, kind):
    X, _ = credit
    model = models[kind]
    rows = X.head(50)
    full, bare = score_table(model, rows), score_table(model, rows, reasons=False)
    assert (full[["pd", "score", "grade"]] == bare[["pd", "score", "grade"]]).all().all()
    assert all(r == () for r in bare["reasons"])
    one = score_application(model, application_of(rows.iloc[0]), reasons=False)
    assert one.reasons == () and one.pd == full["pd"].iloc[0]
