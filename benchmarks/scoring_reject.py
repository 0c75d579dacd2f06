"""Benchmark: reject inference graded honestly on the simulator, where declined applicants' outcomes are known.

A platform is simulated (its rule policy approves and declines credit-line
applications); every applicant gets the 12-month default the truth implies
(``creditmesh.scoring.dataset``). Applicants are split in half by a fixed seed.
On the training half a model sees outcomes of approved applicants only and is fitted

* without reject inference (approved only),
* with augmentation (approved, re-weighted by 1 / P(approve)),
* with parcelling (declined added with outcomes drawn by score band, prudence 1.5);

each is then scored on the whole through-the-door test half, and on its approved
part (what a lender can measure). There is no external anchor: the baseline
"approved only" is the anchor the corrections are compared against.

Usage::

    python benchmarks/scoring_reject.py                      # 100,000 borrowers, seed 11
    python benchmarks/scoring_reject.py --borrowers 30000 --seed 3 --kinds scorecard

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import make_console, print_json_line, result_row

BENCHMARK = "scoring_reject"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--borrowers", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=11, help="a seed the code was not tuned on")
    parser.add_argument("--kinds", default="scorecard,gbm")
    args = parser.parse_args(argv)

    from rich.table import Table

    from creditmesh.scoring import GBMClassifier, Scorecard
    from creditmesh.scoring.dataset import credit_line_table
    from creditmesh.scoring.metrics import auc
    from creditmesh.scoring.reject import augment, parcel
    from creditmesh.simulate import SimulationConfig, simulate

    console = make_console()
    started = time.perf_counter()
    result = simulate(SimulationConfig(borrowers=args.borrowers, months=args.months, seed=args.seed))
    table = credit_line_table(
        result.tables["applications"].to_pandas(),
        result.tables["decisions"].to_pandas(),
        result.truth["applications"].to_pandas(),
        seed=args.seed,
    )
    console.print(
        f"simulated {args.borrowers:,} borrowers in {time.perf_counter() - started:.1f} s: "
        f"{len(table):,} credit-line applications, {table.approved.mean():.1%} approved, "
        f"bad rate {table.bad_12m.mean():.2%} overall, {table.bad_12m[table.approved].mean():.2%} approved"
    )
    features = [c for c in table.columns if c not in ("application_id", "applied_at", "approved", "bad_12m")]
    # its own random stream: the outcome draw used default_rng(seed), and sharing it would tie the split to the outcome
    train = np.random.default_rng([args.seed, 1]).random(len(table)) < 0.5
    X, y, approved = table[features], table.bad_12m.to_numpy(), table.approved.to_numpy()
    X_train, y_train, approved_train = X[train], y[train], approved[train]
    X_test, y_test, approved_test = X[~train], y[~train], approved[~train]

    builders = {"scorecard": Scorecard, "gbm": lambda: GBMClassifier(num_threads=2)}
    view = Table("model", "training", "AUC through the door", "AUC on approved", "fit s")
    results = []
    for kind in [k.strip() for k in args.kinds.split(",") if k.strip()]:
        aucs = {}
        for method in ("approved only", "augmentation", "parcelling"):
            clock = time.perf_counter()
            if method == "approved only":
                model = builders[kind]().fit(X_train[approved_train], y_train[approved_train])
            elif method == "augmentation":
                data = augment(X_train, np.where(approved_train, y_train, 0), approved_train)
                model = builders[kind]().fit(data.X, data.y, sample_weight=data.weight)
            else:
                data = parcel(
                    X_train, np.where(approved_train, y_train, 0), approved_train, model=Scorecard()
                )
                model = builders[kind]().fit(data.X, data.y, sample_weight=data.weight)
            seconds = time.perf_counter() - clock
            p = model.predict_proba(X_test)[:, 1]
            aucs[method] = auc(y_test, p)
            view.add_row(
                kind,
                method,
                f"{aucs[method]:.4f}",
                f"{auc(y_test[approved_test], p[approved_test]):.4f}",
                f"{seconds:.1f}",
            )
        for method in ("augmentation", "parcelling"):
            results.append(
                result_row(
                    f"auc_ttd_{kind}_{method}",
                    "AUC",
                    round(aucs[method], 4),
                    anchor=round(aucs["approved only"], 4),
                    anchor_name=f"{kind} on approved only",
                    goal="higher is better; printed, not a target",
                )
            )
    console.print(view)
    print_json_line(BENCHMARK, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
