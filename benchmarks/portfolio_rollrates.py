"""Roll rates on real data: the Taiwan credit-card book's month-to-month matrix beside the simulator's.

Taiwan (UCI "default of credit card clients", 30,000 customers): ``PAY_6 ...
PAY_0`` are the repayment status of April to September 2005: -2 no balance, -1
paid in full, 0 revolving (minimum paid), ``k >= 1`` payment delayed ``k`` months.
Buckets: ``<= 0`` current, 1 -> ``1-30``, 2 -> ``31-60``, 3 -> ``61-90``, 4-6 ->
``91-180``, ``>= 7`` -> ``180+`` (not written off in this data: it can cure).
Five transitions per customer; customers are the bootstrap clusters. The data's
own quirk shows: status 1 appears almost only in September (``PAY_0``), so the
``1-30`` row rests on a few dozen transitions, and customers often jump from
``0`` straight to ``2`` (printed as the share jumping more than one bucket).

Simulator: 20,000 borrowers over 24 months (seed 1), every month end of the
credit-risk loans (ICE and technology solutions out), loans as clusters,
through :func:`creditmesh.portfolio.rollrates.roll_rates`.

Cross-check (the "anchor"): the point estimates again from a plain
``pandas.crosstab``; they must be equal. Also printed: the share of Taiwan
transitions that jump more than one bucket in a month (impossible for a
months-delayed counter; a data-quality figure).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_average, make_console, print_json_line, result_row  # noqa: E402

DATA = Path(os.environ.get("CREDITMESH_DATA", "/work/shared/data"))
TAIWAN_STATES = ("current", "1-30", "31-60", "61-90", "91-180", "180+")
MONTHS = ("PAY_6", "PAY_5", "PAY_4", "PAY_3", "PAY_2", "PAY_0")  # April ... September 2005


def taiwan_bucket(status: np.ndarray) -> np.ndarray:
    index = np.select([status <= 0, status == 1, status == 2, status == 3, status <= 6], [0, 1, 2, 3, 4], 5)
    return np.array(TAIWAN_STATES)[index]


def main() -> None:
    from creditmesh.portfolio import REQUIRED_TABLES, Book
    from creditmesh.portfolio.rollrates import flow_rates, roll_rates, transition_matrix
    from creditmesh.simulate import SimulationConfig, simulate

    console = make_console()
    console.rule("roll rates: Taiwan credit cards beside the simulator")
    console.print(f"load average at start: {load_average()}")
    frame = pd.read_csv(DATA / "taiwan_credit_card_default" / "taiwan_default.csv.gz")
    status = frame[list(MONTHS)].to_numpy()
    buckets = taiwan_bucket(status)
    from_state = buckets[:, :-1].ravel()
    to_state = buckets[:, 1:].ravel()
    customers = np.repeat(frame["ID"].to_numpy(), len(MONTHS) - 1)
    started = time.perf_counter()
    taiwan = transition_matrix(
        from_state, to_state, states=TAIWAN_STATES, cluster=customers, n_boot=500, seed=1
    )
    taiwan_s = time.perf_counter() - started
    crosstab = pd.crosstab(
        pd.Series(from_state, name="from"), pd.Series(to_state, name="to"), normalize="index"
    )
    crosstab = crosstab.reindex(index=TAIWAN_STATES, columns=TAIWAN_STATES).fillna(0.0)
    observed = taiwan.rates.dropna(how="all").index
    taiwan_gap = float(np.abs(taiwan.rates.loc[observed] - crosstab.loc[observed]).to_numpy().max())
    jumps = np.mean(
        (
            np.array([TAIWAN_STATES.index(s) for s in to_state])
            - np.array([TAIWAN_STATES.index(s) for s in from_state])
        )
        > 1
    )
    console.print(
        f"Taiwan: {taiwan.observations:,} transitions of {taiwan.clusters:,} customers; "
        f"bootstrap 500 replicates in {taiwan_s:.2f} s; max |ours - crosstab| = {taiwan_gap:.1e}"
    )
    console.print(f"Taiwan transitions jumping more than one bucket in a month: {100 * jumps:.2f} %")
    console.print(taiwan.table().to_string())
    console.print(
        "Taiwan transitions by from-state: "
        + ", ".join(f"{state} {int(n):,}" for state, n in taiwan.counts.sum(axis=1).items())
    )

    started = time.perf_counter()
    result = simulate(SimulationConfig(borrowers=20_000, months=24, seed=1))
    book = Book.from_frames(**{name: result.tables[name] for name in REQUIRED_TABLES})
    sim_s = time.perf_counter() - started
    started = time.perf_counter()
    sim = roll_rates(book, dt.date(2023, 1, 1), dt.date(2024, 12, 31), n_boot=500, seed=1)
    roll_s = time.perf_counter() - started
    flows = flow_rates(
        roll_rates(book, dt.date(2023, 1, 1), dt.date(2024, 12, 31), weight="balance", n_boot=0)
    )
    console.print(
        f"simulator: 20,000 borrowers x 24 months in {sim_s:.1f} s; {sim.observations:,} transitions of "
        f"{sim.clusters:,} loans; matrix with 500 replicates in {roll_s:.2f} s"
    )
    console.print(sim.table().to_string())
    console.print(
        "simulator transitions by from-state: "
        + ", ".join(f"{state} {int(n):,}" for state, n in sim.counts.sum(axis=1).items())
    )
    console.print("simulator flow rates (balance-weighted):")
    console.print(flows.round(4).to_string())

    side = pd.DataFrame(
        {
            "Taiwan": [taiwan.table().at[a, b] for a, b in zip(TAIWAN_STATES[:5], TAIWAN_STATES[1:6])],
            "simulator": [
                sim.table().at[a, b]
                for a, b in zip(
                    ("current", "1-30", "31-60", "61-90", "91-180"),
                    ("1-30", "31-60", "61-90", "91-180", "charged_off"),
                )
            ],
        },
        index=[
            "current -> 1-30",
            "1-30 -> 31-60",
            "31-60 -> 61-90",
            "61-90 -> 91-180",
            "91-180 -> 180+ / charged off",
        ],
    )
    side["Taiwan cure (-> current)"] = [taiwan.table().at[a, "current"] for a in TAIWAN_STATES[:5]]
    side["simulator cure (-> current)"] = [
        sim.table().at[a, "current"] for a in ("current", "1-30", "31-60", "61-90", "91-180")
    ]
    console.print("roll one bucket further, with 95 % bootstrap intervals:")
    console.print(side.to_string())

    def row(name, matrix, a, b, anchor, anchor_name):
        return {
            **result_row(
                name,
                "fraction",
                round(float(matrix.rates.at[a, b]), 4),
                anchor=round(float(anchor), 4),
                anchor_name=anchor_name,
            ),
            "ci95": [round(float(matrix.lower.at[a, b]), 4), round(float(matrix.upper.at[a, b]), 4)],
        }

    crosstab_name = "pandas.crosstab (same estimate, no interval)"
    results = [
        row(
            "taiwan_current_to_1_30", taiwan, "current", "1-30", crosstab.at["current", "1-30"], crosstab_name
        ),
        row("taiwan_31_60_to_61_90", taiwan, "31-60", "61-90", crosstab.at["31-60", "61-90"], crosstab_name),
        row(
            "taiwan_61_90_to_91_180", taiwan, "61-90", "91-180", crosstab.at["61-90", "91-180"], crosstab_name
        ),
        row(
            "sim_current_to_1_30",
            sim,
            "current",
            "1-30",
            taiwan.rates.at["current", "1-30"],
            "Taiwan (real book)",
        ),
        row(
            "sim_31_60_to_61_90",
            sim,
            "31-60",
            "61-90",
            taiwan.rates.at["31-60", "61-90"],
            "Taiwan (real book)",
        ),
        row(
            "sim_61_90_to_91_180",
            sim,
            "61-90",
            "91-180",
            taiwan.rates.at["61-90", "91-180"],
            "Taiwan (real book)",
        ),
        {
            **result_row(
                "taiwan_max_gap_vs_crosstab",
                "fraction",
                taiwan_gap,
                goal="0 (same estimate)",
                anchor_name="pandas.crosstab",
            )
        },
        {**result_row("taiwan_bootstrap_500_s", "s", round(taiwan_s, 2)), "transitions": taiwan.observations},
    ]
    console.print(f"load average at end: {load_average()}")
    print_json_line("portfolio_rollrates", results)


if __name__ == "__main__":
    main()
