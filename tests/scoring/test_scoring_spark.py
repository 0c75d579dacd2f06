"""Batch scoring on Spark (mapInArrow): the same PD, score, grade and reasons as the local path, to the bit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from creditmesh.errors import CreditmeshError
from creditmesh.scoring import BinningProcess, GBMClassifier, Scorecard
from creditmesh.scoring.artifact import load_model, save_model
from creditmesh.scoring.serve import score_table_with_ids
from creditmesh.scoring.spark import score_frame, score_parquet


@pytest.fixture(scope="module")
def artifacts(credit, tmp_path_factory):
    X, y = credit
    folder = tmp_path_factory.mktemp("models")
    scorecard = Scorecard(binning=BinningProcess(special_values={"months_late": [98]})).fit(X, y)
    gbm = GBMClassifier(learning_rate=0.1, max_rounds=200, early_stopping=20, num_threads=1).fit(X, y)
    return {
        "scorecard": save_model(scorecard, folder / "scorecard.json"),
        "gbm": save_model(gbm, folder / "gbm"),
    }


@pytest.fixture(scope="module")
def applications(credit, tmp_path_factory):
    X, _ = credit
    frame = X.head(2000).assign(application_id=[f"A{i:05d}" for i in range(2000)])
    path = tmp_path_factory.mktemp("applications") / "applications.parquet"
    frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("kind", ["scorecard", "gbm"])
def test_spark_scores_every_row_as_the_local_path_does(spark, artifacts, applications, kind, tmp_path):
    expected = score_table_with_ids(load_model(artifacts[kind]), pd.read_parquet(applications))
    frame = spark.read.parquet(str(applications)).repartition(3)  # batches cut anywhere change nothing
    got = score_frame(artifacts[kind], frame).toPandas().set_index("application_id")
    got = got.loc[expected["application_id"]].reset_index()
    assert (got["pd"].to_numpy() == expected["pd"].to_numpy()).all()  # bit-identical
    assert (got["score"].to_numpy() == expected["score"].to_numpy()).all()
    assert got["grade"].tolist() == expected["grade"].tolist()
    assert [list(r) for r in got["reasons"]] == [list(r) for r in expected["reasons"]]
    assert expected["grade"].nunique() > 2 and all(len(r) for r in expected["reasons"])
    rows = score_parquet(artifacts[kind], applications, tmp_path / "scored", spark)
    written = pd.read_parquet(tmp_path / "scored").set_index("application_id").loc[expected["application_id"]]
    assert rows == len(expected) and np.array_equal(written["pd"].to_numpy(), expected["pd"].to_numpy())


def test_a_changed_artifact_is_refused_before_any_task(spark, artifacts, applications, tmp_path):
    broken = tmp_path / "scorecard.json"
    broken.write_text(artifacts["scorecard"].read_text().replace('"intercept": ', '"intercept": 1'))
    with pytest.raises(CreditmeshError, match="model"):
        score_frame(broken, spark.read.parquet(str(applications)))
