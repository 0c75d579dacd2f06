"""Benchmark: the decision engine — rule evaluation against GoRules zen-engine, one whole decision, a batch back-test.

(a) The same first-hit decision table (knock-outs on age, region, days past due with
    utilisation, bureau score and income) written once as a GoRules JSON Decision Model and
    once as a creditmesh :class:`~creditmesh.decision.rules.DecisionTable`; both decide the same
    random applications (about one value in ten missing), every output is compared, and the
    per-call time of each is measured one application at a time (creditmesh's table path is
    shown too).
(b) One whole credit-line decision in process (features → GBM score → policy) on one
    application at a time: p50 and p99, wall clock and this thread's CPU time, beside a default
    ``LGBMClassifier()``'s one-row ``predict_proba`` on the same features, call for call in the same run
    (issue #22: the decision's p99 no slower than it).
(c) A batch back-test: ``decide_table`` over N applications (resampled from a simulated
    platform, new ids).
(d) On the simulator's truth: the platform simulated once with the placeholder ``RulePolicy``
    and once with the engine (a GBM trained on another seed's through-the-door outcomes, the
    shipped policy's PD cut-off set so that its approval rate matches the placeholder's):
    automated share of credit-line decisions, and the 90 day+ delinquency rate
    (``portfolio.delinquency_rate_90_plus`` at the last day) of each.

Usage::

    python benchmarks/decision.py                                  # full size
    python benchmarks/decision.py --zen-rows 5000 --batch-rows 100000 --borrowers 20000

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_average, make_console, print_json_line, result_row

BENCHMARK = "decision"

#: The table both engines run: (creditmesh condition, GoRules cells by input field, outputs).
TABLE = (
    ("age < 18", {"age": "< 18"}, {"outcome": "decline", "reason": "underage"}),
    (
        "region in ['XZ', 'YY']",
        {"region": "'XZ', 'YY'"},
        {"outcome": "decline", "reason": "region_not_served"},
    ),
    (
        "max_dpd_on_book > 30 and line_utilization >= 0.9",
        {"max_dpd_on_book": "> 30", "line_utilization": ">= 0.9"},
        {"outcome": "decline", "reason": "dpd_high_utilization"},
    ),
    ("bureau_score < 550", {"bureau_score": "< 550"}, {"outcome": "review", "reason": "low_bureau_score"}),
    (
        "monthly_income_minor < 150000",
        {"monthly_income_minor": "< 150000"},
        {"outcome": "decline", "reason": "income_too_low"},
    ),
    (None, {}, {"outcome": "approve", "reason": "ok"}),
)
FIELDS = ("age", "region", "max_dpd_on_book", "line_utilization", "bureau_score", "monthly_income_minor")


def jdm_graph() -> dict:
    """The table as a GoRules JSON Decision Model: input → first-hit decision table → output."""
    inputs = [{"id": f"in_{f}", "name": f, "field": f} for f in FIELDS]
    outputs = [
        {"id": "out_outcome", "name": "outcome", "field": "outcome"},
        {"id": "out_reason", "name": "reason", "field": "reason"},
    ]
    rules = []
    for i, (_, cells, then) in enumerate(TABLE):
        rule = {"_id": f"r{i}", **{f"in_{f}": cells.get(f, "") for f in FIELDS}}
        rule.update({f"out_{k}": json.dumps(v) for k, v in then.items()})
        rules.append(rule)
    position = {"x": 0, "y": 0}
    return {
        "nodes": [
            {"id": "request", "type": "inputNode", "name": "request", "position": position},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": "knockouts",
                "position": position,
                "content": {"hitPolicy": "first", "inputs": inputs, "outputs": outputs, "rules": rules},
            },
            {"id": "response", "type": "outputNode", "name": "response", "position": position},
        ],
        "edges": [
            {"id": "e1", "sourceId": "request", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "response", "type": "edge"},
        ],
    }


def random_inputs(n: int, seed: int) -> list[dict]:
    """Applications with every field missing about one time in ten (missing fields are left out)."""
    rng = np.random.default_rng(seed)
    columns = {
        "age": rng.integers(16, 70, n),
        "region": rng.choice(["XZ", "YY", "AA", "BB", "CC"], n, p=[0.05, 0.05, 0.3, 0.3, 0.3]),
        "max_dpd_on_book": rng.choice([0, 5, 30, 31, 60, 120], n),
        "line_utilization": np.round(rng.random(n) * 1.2, 2),
        "bureau_score": rng.integers(400, 850, n),
        "monthly_income_minor": rng.integers(50_000, 2_000_000, n),
    }
    keep = rng.random((n, len(FIELDS))) > 0.1
    rows = []
    for i in range(n):
        row = {}
        for j, f in enumerate(FIELDS):
            if keep[i, j]:
                value = columns[f][i]
                row[f] = value.item() if hasattr(value, "item") else value
        rows.append(row)
    return rows


def bench_rules(console, rows: int, seed: int) -> list[dict]:
    import zen

    from creditmesh.decision import DecisionTable

    table = DecisionTable.build([(when, then) for when, _, then in TABLE if when], default=TABLE[-1][2])
    decision = zen.ZenEngine().create_decision(json.dumps(jdm_graph()))
    inputs = random_inputs(rows, seed)
    started = time.perf_counter()
    theirs = [decision.evaluate(row)["result"] for row in inputs]
    zen_us = (time.perf_counter() - started) / rows * 1e6
    started = time.perf_counter()
    ours = [table.decide_one(row) for row in inputs]
    ours_us = (time.perf_counter() - started) / rows * 1e6
    frame = pd.DataFrame(inputs, columns=list(FIELDS))
    started = time.perf_counter()
    batch = table.decide(frame)
    batch_us = (time.perf_counter() - started) / rows * 1e6
    same = sum(t == dict(o) for t, o in zip(theirs, ours))
    batch_same = int(
        (batch["reason"].to_numpy() == np.array([o["reason"] for o in ours], dtype=object)).sum()
    )
    console.print(
        f"(a) {rows:,} inputs: identical {same:,} (one by one), {batch_same:,} (table); "
        f"zen-engine {zen_us:.1f} µs/call, creditmesh {ours_us:.2f} µs/call ({zen_us / ours_us:.1f}×), "
        f"creditmesh table {batch_us:.3f} µs/row"
    )
    return [
        result_row("rules_identical_outputs", "share", same / rows, goal="1.0 on 100,000 random inputs"),
        result_row(
            "rules_per_call",
            "µs",
            round(ours_us, 3),
            anchor=round(zen_us, 2),
            anchor_name="zen-engine",
            goal="≥ 10× faster than zen-engine",
        ),
        result_row("rules_speedup", "×", round(zen_us / ours_us, 1), goal="≥ 10"),
        result_row("rules_table_per_row", "µs", round(batch_us, 4)),
    ]


def train_model(borrowers: int, seed: int):
    from creditmesh.scoring import GBMClassifier
    from creditmesh.scoring.dataset import APPLICATION_FEATURES, credit_line_table
    from creditmesh.simulate import SimulationConfig, simulate

    result = simulate(SimulationConfig(borrowers=borrowers, months=12, seed=seed))
    table = credit_line_table(
        result.tables["applications"].to_pandas(),
        result.tables["decisions"].to_pandas(),
        result.truth["applications"].to_pandas(),
        seed=seed,
    )
    model = GBMClassifier(learning_rate=0.1, max_rounds=300, early_stopping=30).fit(
        table[list(APPLICATION_FEATURES)], table["bad_12m"]
    )
    return model, table


def lightgbm_anchor(table: pd.DataFrame):
    """A default ``LGBMClassifier()`` on the engine model's own features (text as pandas category), and its input."""
    from lightgbm import LGBMClassifier

    from creditmesh.scoring.dataset import APPLICATION_FEATURES

    frame = table[list(APPLICATION_FEATURES)].copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].astype("category")
    return LGBMClassifier(verbose=-1).fit(frame, table["bad_12m"]), frame


def _percentiles(seconds: np.ndarray) -> tuple[float, float]:
    p50, p99 = np.percentile(seconds, [50, 99]) * 1e3
    return float(p50), float(p99)


def bench_online(console, engine, table: pd.DataFrame, calls: int) -> list[dict]:
    """One whole decision and, interleaved call by call (so both meet the same load), a default LightGBM's
    one-row ``predict_proba`` (``num_threads=1``, as in ``scoring_speed.py``) on the same application."""
    records = table.drop(columns=["approved", "bad_12m"]).to_dict("records")
    anchor, frame = lightgbm_anchor(table)
    pool = min(len(records), 1000)
    rows = [frame.iloc[i : i + 1] for i in range(pool)]
    for i in range(200):
        engine.decide_one("credit_line", records[i % pool])
        anchor.predict_proba(rows[i % pool], num_threads=1)
    wall, cpu = np.empty((2, calls)), np.empty((2, calls))
    for i in range(calls):
        started, started_cpu = time.perf_counter(), time.thread_time()
        engine.decide_one("credit_line", records[i % pool])
        wall[0, i], cpu[0, i] = time.perf_counter() - started, time.thread_time() - started_cpu
        started, started_cpu = time.perf_counter(), time.thread_time()
        anchor.predict_proba(rows[i % pool], num_threads=1)
        wall[1, i], cpu[1, i] = time.perf_counter() - started, time.thread_time() - started_cpu
    (p50, p99), (a50, a99) = _percentiles(wall[0]), _percentiles(wall[1])
    (c50, c99), (ac50, ac99) = _percentiles(cpu[0]), _percentiles(cpu[1])
    load = load_average()
    console.print(
        f"(b) one credit-line decision (features, score, policy), {calls:,} calls, load {load}: p50 {p50:.3f} ms, "
        f"p99 {p99:.3f} ms wall (thread CPU p50 {c50:.3f}, p99 {c99:.3f} ms); default LightGBM's one-row "
        f"predict_proba on the same features: p50 {a50:.3f} ms, p99 {a99:.3f} ms wall (thread CPU p50 {ac50:.3f}, "
        f"p99 {ac99:.3f} ms); ratio of p99s {p99 / a99:.2f} wall, {c99 / ac99:.2f} thread CPU"
    )
    anchor_name = "LightGBM LGBMClassifier() one-row predict_proba, same features, same run"
    return [
        result_row("online_decision_p50", "ms", round(p50, 4), anchor=round(a50, 4), anchor_name=anchor_name),
        result_row(
            "online_decision_p99",
            "ms",
            round(p99, 4),
            anchor=round(a99, 4),
            anchor_name=anchor_name,
            goal="<= anchor",
        )
        | {"load_average_1m": load},
        result_row(
            "online_decision_p99_thread_cpu",
            "ms",
            round(c99, 4),
            anchor=round(ac99, 4),
            anchor_name=anchor_name,
            goal="<= anchor",
        )
        | {"load_average_1m": load},
    ]


def bench_batch(console, engine, table: pd.DataFrame, rows: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    frame = (
        table.drop(columns=["approved", "bad_12m"])
        .iloc[rng.integers(0, len(table), rows)]
        .reset_index(drop=True)
    )
    frame["application_id"] = [f"B{i:08d}" for i in range(rows)]
    started = time.perf_counter()
    decided = engine.decide_table(
        "credit_line", frame, model_reasons=False
    )  # a back-test needs outcomes, not reasons
    seconds = time.perf_counter() - started
    console.print(
        f"(c) batch back-test of {rows:,} applications: {seconds:.1f} s "
        f"(approval {decided.outcome.eq('approve').mean():.3f}, automated {decided.automated.mean():.4f})"
    )
    return [
        result_row(
            "batch_backtest_seconds", "s", round(seconds, 2), goal=f"< 60 s for 1,000,000 (ran {rows:,})"
        )
    ]


def bench_truth(console, model, policy, borrowers: int, months: int, seed: int) -> list[dict]:
    from creditmesh.decision import DecisionEngine, EnginePolicy, policy_from_dict
    from creditmesh.portfolio import Book
    from creditmesh.portfolio.metrics import delinquency_rate_90_plus
    from creditmesh.simulate import SimulationConfig, simulate
    from creditmesh.simulate.engine import RulePolicy

    config = SimulationConfig(borrowers=borrowers, months=months, seed=seed)
    baseline = simulate(config, policy=RulePolicy())
    applications = baseline.tables["applications"].to_pandas()
    decisions = baseline.tables["decisions"].to_pandas().set_index("application_id")
    lines = applications[applications.stage == "credit_line"].copy()
    base_rate = decisions.loc[lines.application_id, "outcome"].eq("approve").mean()

    def engine_at(max_pd: float) -> DecisionEngine:
        data = policy.document.model_dump(mode="json")
        data["credit_line"]["max_pd"] = max_pd
        return DecisionEngine(policy_from_dict(data), model)

    low, high = 0.001, 0.5  # the cut-off whose approval rate matches the placeholder's, by bisection
    for _ in range(18):
        middle = (low + high) / 2
        rate = (
            engine_at(middle).decide_table("credit_line", lines)["provisional_outcome"].eq("approve").mean()
        )
        low, high = (middle, high) if rate < base_rate else (low, middle)
    engine = engine_at((low + high) / 2)
    ours = simulate(config, policy=EnginePolicy(engine))

    def figures(result) -> tuple[float, float, float]:
        apps = result.tables["applications"].to_pandas()
        decided = result.tables["decisions"].to_pandas().set_index("application_id")
        credit = decided.loc[apps.loc[apps.stage == "credit_line", "application_id"]]
        with Book.from_frames(**result.tables) as book:
            rate90 = delinquency_rate_90_plus(book, book.last_date)
        return credit.outcome.eq("approve").mean(), credit.automated.mean(), rate90

    base_approval, base_automated, base_90 = figures(baseline)
    our_approval, our_automated, our_90 = figures(ours)
    console.print(
        f"(d) {borrowers:,} borrowers, {months} months: placeholder approves {base_approval:.3f}, automated "
        f"{base_automated:.4f}, 90+ {base_90:.4f}; engine (max_pd {(low + high) / 2:.4f}) approves {our_approval:.3f}, "
        f"automated {our_automated:.4f}, 90+ {our_90:.4f}"
    )
    reduction = None if not base_90 else 1 - our_90 / base_90
    return [
        result_row(
            "credit_line_automated_share",
            "share",
            round(our_automated, 5),
            anchor=round(base_automated, 5),
            anchor_name="placeholder RulePolicy",
            goal="≥ 0.993",
        ),
        result_row(
            "approval_rate",
            "share",
            round(our_approval, 4),
            anchor=round(base_approval, 4),
            anchor_name="placeholder RulePolicy",
            goal="equal",
        ),
        result_row(
            "delinquency_rate_90_plus",
            "share",
            round(our_90, 5),
            anchor=round(base_90, 5),
            anchor_name="placeholder RulePolicy",
            goal="≥ 20 % lower",
        ),
        result_row(
            "delinquency_90_plus_reduction",
            "share",
            None if reduction is None else round(reduction, 4),
            goal="≥ 0.20",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--zen-rows", type=int, default=100_000)
    parser.add_argument("--online-calls", type=int, default=5_000)
    parser.add_argument("--batch-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--borrowers", type=int, default=50_000, help="borrowers simulated to train on and for (d)"
    )
    parser.add_argument("--months", type=int, default=24, help="months simulated for (d)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--skip-truth", action="store_true", help="leave out (d)")
    parser.add_argument(
        "--train-borrowers",
        type=int,
        default=None,
        help="borrowers simulated to train on (default half of --borrowers)",
    )
    args = parser.parse_args(argv)

    from creditmesh.decision import DecisionEngine, default_policy_path, load_policy

    console = make_console()
    results = bench_rules(console, args.zen_rows, args.seed)
    started = time.perf_counter()
    model, table = train_model(args.train_borrowers or args.borrowers // 2, args.seed + 1)
    console.print(
        f"trained a GBM on {len(table):,} simulated applications in {time.perf_counter() - started:.0f} s"
    )
    policy = load_policy(default_policy_path())
    engine = DecisionEngine(policy, model)
    results += bench_online(console, engine, table, args.online_calls)
    results += bench_batch(console, engine, table, args.batch_rows, args.seed)
    if not args.skip_truth:
        results += bench_truth(console, model, policy, args.borrowers, args.months, args.seed)
    print_json_line(BENCHMARK, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
