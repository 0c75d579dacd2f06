"""The graph on Spark against the scipy path on the same Parquet files: graph, components, ring ids, ring table,
grey list (risk within 1e-9) and point-in-time features."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from _graphs import frames

from creditmesh.graph import build
from creditmesh.graph import spark as spark_graph
from creditmesh.graph.features import FEATURE_NAMES, application_features
from creditmesh.graph.labels import blacklist_from_book, delinquency_from_book
from creditmesh.graph.lists import PropagationConfig, grey_list, risk_scores
from creditmesh.graph.rings import components, ring_table

TABLES = ("identities", "borrowers", "applications", "loans", "installments")


def _write(folder, tables: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, table in tables.items():
        table = table if isinstance(table, pa.Table) else pa.Table.from_pandas(table, preserve_index=False)
        pq.write_table(table, folder / f"{name}.parquet", row_group_size=700)  # several row groups


@pytest.fixture(scope="module")
def platform(small_platform, tmp_path_factory):
    folder = tmp_path_factory.mktemp("platform")
    _write(folder, {name: small_platform.tables[name] for name in TABLES})
    tables = {name: pq.read_table(folder / f"{name}.parquet") for name in TABLES}
    return folder, tables, pd.Timestamp(small_platform.end_date, tz="UTC")


@pytest.fixture(scope="module")
def both(spark, platform):
    folder, tables, _ = platform
    local = build(tables["identities"], tables["borrowers"])
    ours = spark_graph.build(*spark_graph.read_tables(spark, folder))
    return local, ours


def _coo_links(local) -> pd.DataFrame:
    coo = local.links.tocoo()
    return (
        pd.DataFrame({"src": coo.row.astype(np.int64), "dst": coo.col.astype(np.int64), "weight": coo.data})
        .sort_values(["src", "dst"])
        .reset_index(drop=True)
    )


def test_the_graph_is_the_scipy_graph_index_for_index_and_bit_for_bit(both):
    local, ours = both
    people = ours.borrowers.orderBy("index").toPandas()
    assert people["index"].tolist() == list(range(local.n_borrowers))
    assert people["borrower_id"].tolist() == local.borrower_ids.to_pylist()
    assert (people["registered_at_us"].to_numpy() == local.registered_at_us).all()
    ids = ours.identifiers.orderBy("identifier").toPandas()
    assert ids["identifier"].tolist() == list(range(local.identifier_namespace.shape[0]))
    assert (ids["namespace"].to_numpy() == local.identifier_namespace).all()
    assert ids["value"].tolist() == local.identifier_values.to_pylist()
    assert (ids["holders"].to_numpy() == local.holders).all() and (ids["hub"].to_numpy() == local.hub).all()
    assert local.hub.any(), "no hub identifier: the cap is not exercised"
    coo = local.incidence.tocoo()
    incidence = ours.incidence.orderBy("borrower", "identifier").toPandas()
    expected = pd.DataFrame({"borrower": coo.row, "identifier": coo.col, "kind": coo.data - 1})
    expected = expected.sort_values(["borrower", "identifier"]).reset_index(drop=True)
    assert (incidence.to_numpy() == expected.to_numpy()).all()
    links = ours.links.orderBy("src", "dst").toPandas()
    reference = _coo_links(local)
    assert len(links) == len(reference)
    assert (links[["src", "dst"]].to_numpy() == reference[["src", "dst"]].to_numpy()).all()
    assert (links["weight"].to_numpy(dtype=np.float32) == reference["weight"].to_numpy()).all()  # bitwise
    assert ours.summary() == local.summary()
    assert ours.report == local.report


def test_components_and_ring_ids_are_scipys(both):
    local, ours = both
    rings, rounds = spark_graph.components(ours)
    labels = components(local)
    found = rings.toPandas()
    assert len(found) == int((np.diff(local.strong.indptr) > 0).sum())
    assert (found["ring"].to_numpy() == labels[found["borrower"].to_numpy()]).all()
    assert found["ring"].nunique() > 10 and rounds >= 1


def test_the_ring_table_is_the_local_one(spark, both, platform):
    local, ours = both
    folder, tables, end = platform
    as_of_us = int(end.value // 1000)
    black = blacklist_from_book(tables["loans"], tables["installments"], as_of=end)
    late = delinquency_from_book(tables["loans"], tables["installments"], as_of=end)
    expected = ring_table(
        local,
        as_of_us=as_of_us,
        applications=tables["applications"],
        blacklist=black,
        delinquency=late,
        min_size=2,
    )
    loans = spark.read.parquet(str(folder / "loans.parquet"))
    installments = spark.read.parquet(str(folder / "installments.parquet"))
    rings, _ = spark_graph.components(ours)
    got = spark_graph.ring_table(
        ours,
        rings,
        as_of_us=as_of_us,
        applications=spark.read.parquet(str(folder / "applications.parquet")),
        blacklist=spark_graph.labels_from_book(
            loans, installments, as_of_us=as_of_us, days=spark_graph.FPD_DAYS, first_only=True
        ),
        delinquency_labels=spark_graph.labels_from_book(
            loans, installments, as_of_us=as_of_us, days=spark_graph.DELINQUENT_DAYS, first_only=False
        ),
        min_size=2,
    )
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert expected["share_blacklisted"].gt(0).any() and expected["applications_7d"].gt(0).any()


def test_the_grey_list_is_scipys_within_1e_9(spark, both, platform):
    local, ours = both
    _, tables, end = platform
    as_of_us = int(end.value // 1000)
    black = blacklist_from_book(tables["loans"], tables["installments"], as_of=end)
    config = PropagationConfig(threshold=0.01)
    expected = grey_list(local, black, as_of_us=as_of_us, config=config)
    got, iterations = spark_graph.grey_list(
        ours, spark_graph.labels_from_frame(spark, black), as_of_us=as_of_us, config=config
    )
    assert len(expected) > 20
    assert sorted(got["borrower_id"]) == sorted(expected["borrower_id"])
    by_borrower = got.set_index("borrower_id")["risk"].loc[expected["borrower_id"]].to_numpy()
    assert np.abs(by_borrower - expected["risk"].to_numpy()).max() <= 1e-9
    # riskiest first: the order differs at most among borrowers whose risks agree to 1e-9
    assert np.abs(got["risk"].to_numpy() - expected["risk"].to_numpy()).max() <= 1e-9
    _, _, local_iterations = risk_scores(local, black, as_of_us=as_of_us, config=config)
    assert iterations == local_iterations


def _ring_founders(local) -> pd.DataFrame:
    """A hand-made black list on the same book: each ring's smallest borrower, listed when it registered, so
    the ring's later applicants see a black-listed neighbour one or more strong links away."""
    on_strong = np.flatnonzero(np.diff(local.strong.indptr) > 0)
    ring = pd.Series(on_strong, index=components(local)[on_strong])
    founders = ring.groupby(level=0).min().to_numpy()
    return pd.DataFrame(
        {
            "borrower_id": np.asarray(local.borrower_ids.to_pylist())[founders],
            "listed_at": pd.to_datetime(local.registered_at_us[founders], unit="us", utc=True),
            "reason": "operator",
        }
    )


def test_point_in_time_features_are_the_batch_paths(spark, both, platform):
    folder, tables, end = platform
    # the book's first-payment defaulters and, since none of them is seen by a later applicant (the
    # simulator's collections world, session 5), the rings' founders by hand: the hop passes are checked
    black = pd.concat(
        [blacklist_from_book(tables["loans"], tables["installments"], as_of=end), _ring_founders(both[0])],
        ignore_index=True,
    )
    late = delinquency_from_book(tables["loans"], tables["installments"], as_of=end)
    expected = application_features(
        tables["identities"], tables["borrowers"], tables["applications"], blacklist=black, delinquency=late
    )
    identities, borrowers = spark_graph.read_tables(spark, folder)
    applications = spark_graph.read_positioned(spark, folder / "applications.parquet", "applications", "app")
    got = (
        spark_graph.application_features(
            identities,
            borrowers,
            applications,
            blacklist=spark_graph.labels_from_frame(spark, black),
            delinquency_labels=spark_graph.labels_from_frame(spark, late),
            graph=both[1],  # the build's encoding reused (encode itself is held by the build test)
        )
        .orderBy("app")
        .toPandas()
        .drop(columns="app")
    )
    assert got.columns.tolist() == ["application_id", *FEATURE_NAMES]
    for column in FEATURE_NAMES:
        assert (got[column].to_numpy() == expected[column].to_numpy()).all(), column
    assert got["application_id"].tolist() == list(expected["application_id"])
    assert (expected["ring_size"] > 1).any()
    assert (expected["blacklist_hops"] >= 1).any() and (expected["blacklist_hops"] >= 2).any()
    assert (expected["neighbour_links_blacklisted"] > 0).any()


def test_hubs_duplicates_bad_rows_and_contacts_build_the_same_graph(spark, tmp_path):
    people = {f"B{i}": i for i in range(14)}
    rows = [(f"B{i}", "ip", "public") for i in range(12)]  # 12 > the IP cap of 30? no: a phone hub below
    rows += [(f"B{i}", "phone", "shared") for i in range(11)]  # 11 holders > phone cap 10: a hub
    rows += [("B0", "device", "d"), ("B1", "device", "d"), ("B1", "device", "d")]  # a repeated row
    rows += [("B2", "phone", "p2"), ("B3", "contact", "p2"), ("B3", "phone", "p2")]  # one's own contact too
    rows += [("B4", "employer", "e"), ("B5", "employer", "e"), ("B4", "address", "a"), ("B5", "address", "a")]
    rows += [("B4", "bank_card", "c"), ("B5", "bank_card", "c"), ("B4", "ip", "i"), ("B5", "ip", "i")]
    rows += [("B6", "device", " "), ("B7", "fax", "f"), ("nobody", "phone", "x"), ("B8", "phone", None)]
    identities, borrowers = frames(people, rows)
    _write(tmp_path, {"identities": identities, "borrowers": borrowers})
    local = build(identities, borrowers)
    ours = spark_graph.build(*spark_graph.read_tables(spark, tmp_path))
    assert ours.report == local.report and local.report.skipped == 5
    links = ours.links.orderBy("src", "dst").toPandas()
    reference = _coo_links(local)
    assert (links[["src", "dst"]].to_numpy() == reference[["src", "dst"]].to_numpy()).all()
    assert (links["weight"].to_numpy(dtype=np.float32) == reference["weight"].to_numpy()).all()
    assert ours.summary() == local.summary()
