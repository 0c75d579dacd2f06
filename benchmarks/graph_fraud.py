"""Benchmark: does the relationship graph catch fraud? Real transactions (IEEE-CIS) and the simulator's rings.

1. IEEE-CIS (``$CREDITMESH_DATA/ieee_cis_fraud``, default ``../shared/data``; Kaggle rules: local
   benchmarking only). The data has no person ids: a node ("borrower") is a card-holder proxy, the
   card's four fields and the billing address; each transaction is an application of its node, seen
   from the node's first transaction; card1, the billing address, the e-mail domain and the device
   are the identifiers nodes share (hubs capped as for people). A node's identifiers are gathered over
   the whole period (the identities table has no time, so later identifiers count from the first
   transaction: links, not labels, may come from the future); labels are point in time: a node is
   blacklisted 30 days after a fraud of its own (the chargeback delay assumed here). The graph
   features are added to the data's columns. The same LightGBM is trained on
   the first 80 % by time and scored on the last 20 %, with and without the graph features
   (the data's README gives a 0.896 floor for a HistGradientBoosting baseline without them).
2. Simulator, on a held-out seed the graph code was never tuned on: rings (components of 3+
   borrowers over strong links whose members registered within 30 days, a rule set on seed 5)
   against the truth's rings of 3+ fraudsters, recall and precision;
   and LightGBM fraud AUC per application (time split 80/20) with and without the graph features,
   whose labels (first-payment defaults, delinquencies) come from the book, point in time.

Usage::

    python benchmarks/graph_fraud.py                   # both parts
    python benchmarks/graph_fraud.py --skip-ieee       # the simulator part only
    python benchmarks/graph_fraud.py --borrowers 50000 --seed 2027

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import make_console, print_json_line, result_row

BENCHMARK = "graph_fraud"
IEEE_FLOOR_AUC = 0.896
LABEL_DELAY_DAYS = 30
HELD_OUT_SEED = 2027
RING_SPAN_DAYS = 30
GOAL_RECALL = GOAL_PRECISION = 0.90
LGBM = dict(
    n_estimators=300,
    learning_rate=0.05,
    num_leaves=63,
    min_child_samples=50,
    subsample=0.8,
    subsample_freq=1,
    colsample_bytree=0.7,
    n_jobs=2,
    verbose=-1,
    random_state=0,
)


def _data_root() -> Path:
    return Path(os.environ.get("CREDITMESH_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _auc_with_and_without(
    frame: pd.DataFrame,
    base: list[str],
    graph: list[str],
    target: str,
    time_column: str,
    categorical: list[str],
) -> tuple[float, float, int, int]:
    import lightgbm as lgb
    from sklearn.metrics import roc_auc_score

    order = frame[time_column].rank(method="first").to_numpy()
    train = order <= 0.8 * len(frame)
    results = []
    for columns in (base, base + graph):
        model = lgb.LGBMClassifier(**LGBM)
        model.fit(
            frame.loc[train, columns],
            frame.loc[train, target],
            categorical_feature=[c for c in categorical if c in columns],
        )
        score = model.predict_proba(frame.loc[~train, columns])[:, 1]
        results.append(roc_auc_score(frame.loc[~train, target], score))
    return results[0], results[1], int(train.sum()), int((~train).sum())


def ieee(console) -> dict:
    from creditmesh.graph.features import FEATURE_NAMES, application_features

    path = _data_root() / "ieee_cis_fraud" / "ieee_cis_train_subset.csv.gz"
    if not path.is_file():
        return {"skipped": f"{path} not found (set CREDITMESH_DATA)"}
    started = time.perf_counter()
    data = pd.read_csv(path)
    read_s = time.perf_counter() - started
    start = pd.Timestamp("2017-12-01", tz="UTC")
    when = start + pd.to_timedelta(data["TransactionDT"], unit="s")

    def text(column: str) -> pd.Series:
        return data[column].astype("string").fillna("?")

    # a node is a card holder proxy (the card's four fields and the billing address); each transaction is
    # an application of its node; cards, e-mail domains and devices are the identifiers nodes share
    node = (
        "U"
        + text("card1")
        + "-"
        + text("card2")
        + "-"
        + text("card3")
        + "-"
        + text("card5")
        + "-"
        + text("addr1")
        + "-"
        + text("addr2")
    )
    ids = "T" + data["TransactionID"].astype(str)

    def rows(kind: str, value: pd.Series, present: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"borrower_id": node[present], "kind": kind, "value": value[present]})

    identities = pd.concat(
        [
            rows("bank_card", text("card1"), data["card1"].notna()),
            rows("address", text("addr1") + "-" + text("addr2"), data["addr1"].notna()),
            rows("contact", text("R_emaildomain"), data["R_emaildomain"].notna()),
            rows("device", text("DeviceInfo"), data["DeviceInfo"].notna()),
        ],
        ignore_index=True,
    ).drop_duplicates()
    first_seen = when.groupby(node).min()
    borrowers = pd.DataFrame({"borrower_id": first_seen.index, "registered_at": first_seen.to_numpy()})
    applications = pd.DataFrame({"application_id": ids, "borrower_id": node, "applied_at": when})
    fraud = data["isFraud"].to_numpy() == 1
    # a node is blacklisted once a fraud of its own is confirmed, LABEL_DELAY_DAYS after that transaction
    blacklist = pd.DataFrame(
        {"borrower_id": node[fraud], "listed_at": when[fraud] + pd.Timedelta(days=LABEL_DELAY_DAYS)}
    )
    started = time.perf_counter()
    features = application_features(identities, borrowers, applications, blacklist=blacklist)
    graph_s = time.perf_counter() - started
    graph_columns = [c for c in FEATURE_NAMES if features[c].std() > 0]
    frame = pd.concat([data.reset_index(drop=True), features[graph_columns].reset_index(drop=True)], axis=1)
    base = [c for c in data.columns if c not in ("TransactionID", "isFraud", "TransactionDT")]
    categorical = [c for c in base if not pd.api.types.is_numeric_dtype(frame[c])]
    for column in categorical:
        frame[column] = frame[column].astype("category")
    without, with_graph, n_train, n_test = _auc_with_and_without(
        frame, base, graph_columns, "isFraud", "TransactionDT", categorical
    )
    console.print(
        f"IEEE-CIS: {len(data):,} transactions of {len(borrowers):,} card holders (card + billing address), "
        f"{len(identities):,} identifier rows, read {read_s:.1f} s, "
        f"graph features {graph_s:.1f} s; LightGBM on the first 80 % by time ({n_train:,}), "
        f"test {n_test:,}: AUC without graph {without:.4f}, with graph {with_graph:.4f} "
        f"(README floor {IEEE_FLOOR_AUC}, HistGradientBoosting without graph)",
        highlight=False,
    )
    return {
        "auc_without": without,
        "auc_with": with_graph,
        "graph_s": graph_s,
        "graph_columns": graph_columns,
    }


def simulator(console, borrowers: int, seed: int) -> dict:
    from creditmesh.graph import build
    from creditmesh.graph.features import FEATURE_NAMES, application_features
    from creditmesh.graph.labels import blacklist_from_book, delinquency_from_book
    from creditmesh.graph.rings import components, ring_table
    from creditmesh.schema import FEATURE_COLUMNS
    from creditmesh.simulate import SimulationConfig, simulate

    started = time.perf_counter()
    result = simulate(SimulationConfig(borrowers=borrowers, months=24, seed=seed))
    simulate_s = time.perf_counter() - started
    tables = result.tables
    truth = result.truth["borrowers"].to_pandas()
    started = time.perf_counter()
    graph = build(tables["identities"], tables["borrowers"])
    labels = components(graph)
    table = ring_table(
        graph, as_of_us=int(pd.Timestamp(result.end_date, tz="UTC").value // 1000), labels=labels, min_size=3
    )
    rings_s = time.perf_counter() - started
    size = np.bincount(labels)
    # the rule (set on seed 5, never on the held-out seed): 3+ members who registered within RING_SPAN_DAYS
    predicted = table.loc[table["registration_span_days"] <= RING_SPAN_DAYS, "ring"].to_numpy()
    ring = truth["ring_id"].to_numpy()
    fraud = truth["is_fraud"].to_numpy()
    members = pd.DataFrame({"component": labels, "ring": ring, "fraud": fraud})
    # truth rings with 3+ fraudsters
    per_ring = members[members["fraud"] & members["ring"].notna()].groupby("ring").size()
    true_rings = per_ring[per_ring >= 3].index
    in_predicted = members[np.isin(members["component"].to_numpy(), predicted)]
    # a predicted ring is right when most of its members are fraudsters of one ring
    top = in_predicted.groupby("component")["ring"].agg(
        lambda r: r.value_counts().iloc[0] if r.notna().any() else 0
    )
    right = (top / pd.Series(size[top.index.to_numpy()], index=top.index)) > 0.5
    precision = float(right.mean()) if len(right) else 0.0
    # a true ring is found when one predicted ring holds most of its fraudsters and is right
    found = 0
    ring_members = members[members["ring"].isin(true_rings) & members["fraud"]]
    best = ring_members.groupby(["ring", "component"]).size().reset_index(name="n")
    best = best.sort_values("n", ascending=False).drop_duplicates("ring")
    ring_sizes = ring_members.groupby("ring").size()
    for row in best.itertuples(index=False):
        if row.component in right.index and right[row.component] and row.n > 0.5 * ring_sizes[row.ring]:
            found += 1
    recall = found / max(len(true_rings), 1)
    console.print(
        f"simulator seed {seed} (held out), {borrowers:,} borrowers: simulate {simulate_s:.1f} s, graph + components "
        f"{rings_s:.1f} s; {len(true_rings)} true rings of 3+ fraudsters, {len(predicted)} predicted rings (components "
        f"of 3+ over strong links registered within {RING_SPAN_DAYS} days; {int((size >= 3).sum())} components of 3+ "
        f"in all): recall {recall:.3f}, precision {precision:.3f} (goal >= {GOAL_RECALL} each)",
        highlight=False,
    )

    end = pd.Timestamp(result.end_date, tz="UTC")
    black = blacklist_from_book(tables["loans"], tables["installments"], as_of=end)
    late = delinquency_from_book(tables["loans"], tables["installments"], as_of=end)
    started = time.perf_counter()
    features = application_features(
        tables["identities"], tables["borrowers"], tables["applications"], blacklist=black, delinquency=late
    )
    features_s = time.perf_counter() - started
    apps = tables["applications"].to_pandas()
    frame = apps[["application_id", "applied_at", *FEATURE_COLUMNS]].merge(features, on="application_id")
    frame = frame.merge(
        result.truth["applications"].to_pandas()[["application_id", "is_fraud"]], on="application_id"
    )
    frame["employment"] = frame["employment"].astype("category")
    for column in FEATURE_COLUMNS:
        if column != "employment":
            frame[column] = frame[column].astype("float64")
    frame["is_fraud"] = frame["is_fraud"].astype(int)
    frame["t"] = frame["applied_at"].astype("int64")
    graph_columns = list(FEATURE_NAMES)
    without, with_graph, n_train, n_test = _auc_with_and_without(
        frame, list(FEATURE_COLUMNS), graph_columns, "is_fraud", "t", ["employment"]
    )
    console.print(
        f"simulator fraud AUC per application ({len(frame):,} applications, {frame['is_fraud'].mean():.4f} fraud, "
        f"graph features {features_s:.1f} s, black list {len(black):,} first-payment defaults): "
        f"without graph {without:.4f}, with graph {with_graph:.4f}",
        highlight=False,
    )
    # first-payment defaults of the loans the applications funded (known by the data's end): defaults fraud drives
    loans = tables["loans"].to_pandas()[["loan_id", "application_id"]]
    first = tables["installments"].to_pandas().query("seq == 1")[["loan_id", "due_date", "paid_at"]]
    first = first.merge(loans, on="loan_id")
    due = pd.to_datetime(first["due_date"]).dt.tz_localize("UTC") + pd.Timedelta(days=60)
    paid = pd.to_datetime(first["paid_at"]).dt.tz_localize("UTC")
    first = first[due <= end].assign(
        fpd=lambda f: (f["paid_at"].isna() | (paid[due <= end] > due[due <= end])).astype(int)
    )
    loans_frame = frame.merge(first[["application_id", "fpd"]], on="application_id")
    fpd_without, fpd_with, _, _ = _auc_with_and_without(
        loans_frame, list(FEATURE_COLUMNS), graph_columns, "fpd", "t", ["employment"]
    )
    console.print(
        f"simulator first-payment-default AUC per funded application ({len(loans_frame):,} loans, "
        f"{loans_frame['fpd'].mean():.4f} defaulted, {loans_frame.loc[loans_frame['fpd'] == 1, 'is_fraud'].mean():.2f} "
        f"of them by fraudsters): without graph {fpd_without:.4f}, with graph {fpd_with:.4f}",
        highlight=False,
    )
    return {
        "recall": recall,
        "precision": precision,
        "true_rings": int(len(true_rings)),
        "predicted_rings": int(len(predicted)),
        "auc_without": without,
        "auc_with": with_graph,
        "fpd_auc_without": fpd_without,
        "fpd_auc_with": fpd_with,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--borrowers", type=int, default=100_000)
    parser.add_argument(
        "--seed", type=int, default=HELD_OUT_SEED, help="the held-out simulator seed (default: %(default)s)"
    )
    parser.add_argument("--skip-ieee", action="store_true")
    args = parser.parse_args(argv)
    console = make_console()
    results = []
    if not args.skip_ieee:
        real = ieee(console)
        if "skipped" in real:
            console.print(f"IEEE-CIS skipped: {real['skipped']}")
        else:
            results.append(
                result_row(
                    "ieee_auc_without_graph",
                    "AUC",
                    round(real["auc_without"], 4),
                    anchor=IEEE_FLOOR_AUC,
                    anchor_name="README HistGradientBoosting floor",
                    goal=f">= {IEEE_FLOOR_AUC}",
                )
            )
            results.append(
                result_row(
                    "ieee_auc_with_graph",
                    "AUC",
                    round(real["auc_with"], 4),
                    anchor=round(real["auc_without"], 4),
                    anchor_name="same LightGBM without graph features",
                    goal="> without",
                )
            )
    sim = simulator(console, args.borrowers, args.seed)
    results.append(result_row("ring_recall", "fraction", round(sim["recall"], 4), goal=f">= {GOAL_RECALL}"))
    results.append(
        result_row("ring_precision", "fraction", round(sim["precision"], 4), goal=f">= {GOAL_PRECISION}")
    )
    results.append(result_row("sim_fraud_auc_without_graph", "AUC", round(sim["auc_without"], 4)))
    results.append(
        result_row(
            "sim_fraud_auc_with_graph",
            "AUC",
            round(sim["auc_with"], 4),
            anchor=round(sim["auc_without"], 4),
            anchor_name="same LightGBM without graph features",
            goal="> without",
        )
    )
    results.append(result_row("sim_fpd_auc_without_graph", "AUC", round(sim["fpd_auc_without"], 4)))
    results.append(
        result_row(
            "sim_fpd_auc_with_graph",
            "AUC",
            round(sim["fpd_auc_with"], 4),
            anchor=round(sim["fpd_auc_without"], 4),
            anchor_name="same LightGBM without graph features",
            goal="> without",
        )
    )
    print_json_line(BENCHMARK, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
