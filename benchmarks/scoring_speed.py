"""Benchmark: scorecard fit on 1,000,000 x 100 beside optbinning, and one-application online latency.

Goals (issue #5), on 2 cores:

- binning + scorecard fit on 1,000,000 rows x 100 numerical features under 60 s, side by side
  with optbinning (``BinningProcess`` + ``LogisticRegression``) on the same data (the ratio is printed);
- online scoring of one application under 100 µs (scorecard) and 300 µs (GBM) at the 99th
  percentile, in process;
- batch scoring throughput in rows/s.

The data are synthetic (:func:`synthetic_applications`, seeded): amounts (log-normal),
utilisations (beta, a few over 100 %), zero-inflated delinquency counts, ages, heavy-tailed
ratios, months on book, bureau-like scores and 0/1 flags, with 0-20 % missing in a third
of the columns; the truth is logistic in monotone and U-shaped transforms of the first
40 % of the features (missing adds risk), with a bad rate of about 8 %. Generating it is
not timed.

Online scoring uses ``model.score_one(dict) -> float`` when the model has it; otherwise
``predict_proba`` on a one-row DataFrame is timed (built outside the timer) and the
table says so. optbinning's one-row figure is its pipeline's ``predict_proba`` on a
one-row DataFrame; LightGBM's is ``predict_proba(row, num_threads=1)``. GBMs
(creditmesh's ``GBMClassifier`` and, for comparison, a default ``LGBMClassifier``) are
fitted on a stratified sample of ``--gbm-rows`` rows, since their fit time is not a goal
here. While ``creditmesh.scoring`` is missing, its rows say "not available".

Usage::

    python benchmarks/scoring_speed.py                            # 1,000,000 x 100
    python benchmarks/scoring_speed.py --rows 100000 --features 20  # smaller
    python benchmarks/scoring_speed.py --skip-optbinning          # creditmesh only

Progress goes to stderr. The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
import pandas as pd
from _common import load_average, make_console, peak_rss_bytes, print_json_line, result_row
from _scoring_data import stratified_sample

BENCHMARK = "scoring_speed"
SEED = 5
#: The issue's goals.
FIT_GOAL_S = 60.0
ONLINE_P99_GOAL_US = {"scorecard": 100.0, "gbm": 300.0}
KINDS = ("amount", "utilization", "count", "age", "ratio", "months", "score", "flag")
MISSING_RATES = (0.0, 0.0, 0.02, 0.0, 0.05, 0.0, 0.0, 0.2, 0.0)


# --- the data ------------------------------------------------------------------------------------------


def synthetic_applications(
    rows: int, features: int, seed: int = SEED, bad_rate: float = 0.08
) -> tuple[pd.DataFrame, np.ndarray]:
    """``rows`` applications with ``features`` numerical columns of credit-like shapes and a logistic truth."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {}
    logit = np.zeros(rows)
    informative = max(1, int(round(0.4 * features)))
    for j in range(features):
        kind = KINDS[j % len(KINDS)]
        if kind == "amount":
            x = np.round(rng.lognormal(mean=9.5, sigma=0.8, size=rows), 2)
            signal = -(np.log(x) - 9.5) / 0.8  # more income, less risk
        elif kind == "utilization":
            x = rng.beta(0.7, 1.6, size=rows) * 1.15
            signal = (x - 0.35) / 0.3 + 1.5 * np.maximum(x - 0.9, 0)  # steep above 90 %
        elif kind == "count":
            x = np.where(rng.random(rows) < 0.75, 0, rng.poisson(1.6, size=rows) + 1).astype(float)
            signal = np.log1p(x) * 1.3
        elif kind == "age":
            x = np.clip(np.round(rng.normal(41, 12, size=rows)), 18, 85)
            signal = ((x - 45) / 14) ** 2 - 1  # U-shaped: young and old riskier
        elif kind == "ratio":
            x = rng.lognormal(mean=-1.2, sigma=1.1, size=rows)
            signal = np.clip(np.log(x) + 1.2, -3, 4) / 1.1
        elif kind == "months":
            x = np.floor(rng.exponential(48, size=rows))
            signal = -np.log1p(x) / 1.5 + 2.5
        elif kind == "score":
            x = np.clip(np.round(rng.normal(680, 70, size=rows)), 300, 850)
            signal = -(x - 680) / 70
        else:  # flag
            x = (rng.random(rows) < 0.1).astype(float)
            signal = 2.0 * x - 0.2
        missing_rate = MISSING_RATES[j % len(MISSING_RATES)]
        missing = rng.random(rows) < missing_rate if missing_rate else np.zeros(rows, dtype=bool)
        if j < informative:
            weight = 0.9 / (1 + j / 6)
            signal = np.nan_to_num(signal - np.mean(signal))
            logit += weight * np.where(missing, 0.4, signal)
        x = x.astype(float)
        x[missing] = np.nan
        columns[f"{kind}_{j:03d}"] = x
    logit /= max(np.std(logit), 1e-9) / 1.6  # a realistic AUC, about 0.8
    low, high = -12.0, 4.0
    for _ in range(60):  # intercept for the bad rate
        mid = (low + high) / 2
        if np.mean(1 / (1 + np.exp(-(logit + mid)))) > bad_rate:
            high = mid
        else:
            low = mid
    y = (rng.random(rows) < 1 / (1 + np.exp(-(logit + low)))).astype(np.int8)
    return pd.DataFrame(columns), y


# --- timing helpers ------------------------------------------------------------------------------------


@dataclass
class Latency:
    how: str
    p50_us: float
    p99_us: float
    calls: int
    cpu_p50_us: float | None = (
        None  # this thread's CPU time: what the call costs without the shared machine's preemption
    )
    cpu_p99_us: float | None = None


def time_online(
    model: Any, X: pd.DataFrame, calls: int, warmup: int = 200, options: dict[str, Any] | None = None
) -> Latency:
    """Per-call latency of scoring one application, over a pool of real rows (``options`` go to ``score_one``)."""
    pool_size = min(len(X), 1000)
    if callable(getattr(model, "score_one", None)):
        records = X.iloc[:pool_size].to_dict("records")
        pool: list[Any] = [
            {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()} for r in records
        ]
        call: Callable[[Any], Any] = (
            (lambda row: model.score_one(row, **options)) if options else model.score_one
        )
        how = "score_one(dict" + "".join(f", {k}={v!r}" for k, v in (options or {}).items()) + ")"
    else:
        pool = [X.iloc[i : i + 1] for i in range(min(pool_size, 200))]
        call = model.predict_proba
        how = "predict_proba(1-row DataFrame) [no score_one]"
    for i in range(warmup):
        answer = call(pool[i % len(pool)])
    if warmup and how.startswith("score_one") and isinstance(answer, tuple):
        how += f" -> tuple of {len(answer)}"  # the contract asks for a float; a tuple also carries points/reasons
    times = np.empty(calls, dtype=np.int64)
    cpu = np.empty(calls, dtype=np.int64)
    clock, cpu_clock = time.perf_counter_ns, time.thread_time_ns
    for i in range(calls):
        row = pool[i % len(pool)]
        started, started_cpu = clock(), cpu_clock()
        call(row)
        times[i], cpu[i] = clock() - started, cpu_clock() - started_cpu
    return Latency(
        how,
        float(np.percentile(times, 50)) / 1e3,
        float(np.percentile(times, 99)) / 1e3,
        calls,
        float(np.percentile(cpu, 50)) / 1e3,
        float(np.percentile(cpu, 99)) / 1e3,
    )


def time_batch(model: Any, X: pd.DataFrame) -> float:
    """Rows per second of ``predict_proba`` over the whole frame (one call; the best of two)."""
    best = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        model.predict_proba(X)
        best = min(best, time.perf_counter() - started)
    return len(X) / best


class _OneThreadOnline:
    """A LightGBM model whose one-row calls run on one thread (OpenMP start-up and, on a busy machine,
    descheduled threads cost milliseconds a call); batch calls keep LightGBM's default threads."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> _OneThreadOnline:
        self.model.fit(X, y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(X, num_threads=1) if len(X) == 1 else self.model.predict_proba(X)


def _progress(message: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


def _creditmesh(class_name: str) -> tuple[Any | None, str | None]:
    try:
        import creditmesh.scoring as scoring
    except ImportError as error:
        return None, f"not available: creditmesh.scoring cannot be imported ({error})"
    if not hasattr(scoring, class_name):
        return None, f"not available: creditmesh.scoring has no {class_name}"
    return getattr(scoring, class_name), None


@dataclass
class Entry:
    """One model's figures (None where not run), or why it did not run."""

    name: str
    kind: str
    fit_s: float | None = None
    fit_rows: int | None = None
    online: Latency | None = None
    batch_rows_s: float | None = None
    error: str | None = None


def _run_model(
    entry: Entry,
    make: Callable[[], Any],
    X_fit: pd.DataFrame,
    y_fit: np.ndarray,
    X_score: pd.DataFrame,
    calls: int,
) -> Any:
    """Fit (timed), then online latency and batch throughput; errors land in ``entry.error``."""
    try:
        model = make()
        _progress(f"{entry.name}: fitting on {len(y_fit):,} x {X_fit.shape[1]} ...")
        gc.collect()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            model.fit(X_fit, y_fit)
            entry.fit_s = time.perf_counter() - started
        entry.fit_rows = len(y_fit)
        _progress(f"{entry.name}: fit {entry.fit_s:.1f} s; online latency ({calls:,} calls) ...")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            entry.online = time_online(model, X_score, calls)
            _progress(
                f"{entry.name}: p50 {entry.online.p50_us:.1f} µs, p99 {entry.online.p99_us:.1f} µs; batch ..."
            )
            entry.batch_rows_s = time_batch(model, X_score)
        _progress(f"{entry.name}: batch {entry.batch_rows_s:,.0f} rows/s")
        return model
    except Exception as error:  # noqa: BLE001 - a failing model becomes a row saying so
        entry.error = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:200]
        _progress(f"{entry.name}: FAILED {entry.error}")
        return None


def _ratio(ours: float | None, anchor: float | None) -> float | None:
    return None if ours is None or not anchor else round(ours / anchor, 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="applications (default: %(default)s)")
    parser.add_argument("--features", type=int, default=100, help="numerical features (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=SEED, help="data seed (default: %(default)s)")
    parser.add_argument(
        "--gbm-rows", type=int, default=200_000, help="rows the GBMs are fitted on (default: %(default)s)"
    )
    parser.add_argument(
        "--online-calls",
        type=int,
        default=20_000,
        help="timed one-row calls for creditmesh and LightGBM (default: %(default)s)",
    )
    parser.add_argument(
        "--anchor-online-calls",
        type=int,
        default=2_000,
        help="timed one-row calls for optbinning, which is slower (default: %(default)s)",
    )
    parser.add_argument(
        "--batch-rows", type=int, default=None, help="rows scored in the batch test (default: all)"
    )
    parser.add_argument(
        "--optbinning-jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="BinningProcess n_jobs, all cores like creditmesh (default: %(default)s)",
    )
    parser.add_argument(
        "--skip-single-gbm",
        action="store_true",
        help="do not fit GBMClassifier(ensemble=False) too (a second GBM fit)",
    )
    parser.add_argument(
        "--skip-optbinning",
        action="store_true",
        help="do not fit optbinning (its fit takes minutes at full size)",
    )
    args = parser.parse_args(argv)
    if args.rows < 1000 or args.features < 1:
        parser.error("--rows must be at least 1000 and --features at least 1")

    from rich.table import Table

    console = make_console()
    console.print(
        f"[bold]creditmesh scoring speed benchmark[/]: {args.rows:,} x {args.features} synthetic applications "
        f"(seed {args.seed}), {os.cpu_count()} CPUs, load average {load_average()}",
        highlight=False,
    )
    _progress(f"generating {args.rows:,} x {args.features} ...")
    X, y = synthetic_applications(args.rows, args.features, args.seed)
    _progress(
        f"generated: bad rate {y.mean():.2%}, {X.isna().mean().mean():.1%} cells missing, {X.memory_usage().sum() / 1e9:.2f} GB"
    )
    X_batch = X if args.batch_rows is None else X.iloc[: args.batch_rows]
    X_gbm, y_gbm = stratified_sample(X, y, args.gbm_rows, args.seed)

    entries: list[Entry] = []
    sc_class, sc_error = _creditmesh("Scorecard")
    gbm_class, gbm_error = _creditmesh("GBMClassifier")

    scorecard = Entry("creditmesh Scorecard", "scorecard", error=sc_error)
    entries.append(scorecard)
    if sc_class is not None:
        _run_model(scorecard, sc_class, X, y, X_batch, args.online_calls)

    optbinning = Entry(
        f"optbinning BinningProcess + LogisticRegression (n_jobs={args.optbinning_jobs})", "scorecard"
    )
    entries.append(optbinning)
    if args.skip_optbinning:
        optbinning.error = "skipped (--skip-optbinning)"
    else:
        try:
            from optbinning import BinningProcess
            from sklearn.linear_model import LogisticRegression
            from sklearn.pipeline import make_pipeline

            def make_optbinning() -> Any:
                return make_pipeline(
                    BinningProcess(
                        list(X.columns), selection_criteria={"iv": {"min": 0.02}}, n_jobs=args.optbinning_jobs
                    ),
                    LogisticRegression(),
                )

            _run_model(optbinning, make_optbinning, X, y, X_batch, args.anchor_online_calls)
        except ImportError as error:
            optbinning.error = f"optbinning not installed ({error}); make install-bench"

    gbm = Entry("creditmesh GBMClassifier", "gbm", error=gbm_error)
    entries.append(gbm)
    gbm_pd = Entry("creditmesh GBMClassifier, PD without reasons", "gbm", error=gbm_error)
    entries.append(gbm_pd)
    if gbm_class is not None:
        fitted = _run_model(gbm, gbm_class, X_gbm, y_gbm, X_batch, args.online_calls)
        if (
            fitted is not None
        ):  # reasons (TreeSHAP over every tree) cost far more than the PD: time the PD alone too
            gbm_pd.online = time_online(fitted, X_batch, args.online_calls, options={"with_reasons": False})
            _progress(f"{gbm_pd.name}: p50 {gbm_pd.online.p50_us:.1f} µs, p99 {gbm_pd.online.p99_us:.1f} µs")
    gbm_single = Entry("creditmesh GBMClassifier(ensemble=False), PD without reasons", "gbm", error=gbm_error)
    entries.append(gbm_single)
    if args.skip_single_gbm:
        gbm_single.error = "skipped (--skip-single-gbm)"
    elif gbm_class is not None:  # one booster and one scorecard serve instead of three of each
        single = _run_model(
            gbm_single,
            lambda: gbm_class(ensemble=False),
            X_gbm,
            y_gbm,
            X_batch,
            max(1, args.online_calls // 10),
        )
        if single is not None:
            gbm_single.online = time_online(
                single, X_batch, args.online_calls, options={"with_reasons": False}
            )
            _progress(
                f"{gbm_single.name}: p50 {gbm_single.online.p50_us:.1f} µs, p99 {gbm_single.online.p99_us:.1f} µs"
            )

    lightgbm = Entry("LightGBM LGBMClassifier() default", "gbm")
    entries.append(lightgbm)
    try:
        from lightgbm import LGBMClassifier

        _run_model(
            lightgbm,
            lambda: _OneThreadOnline(LGBMClassifier(verbose=-1)),
            X_gbm,
            y_gbm,
            X_batch,
            args.online_calls,
        )
        if lightgbm.online:
            lightgbm.online.how = "predict_proba(1-row DataFrame, num_threads=1)"
    except ImportError as error:
        lightgbm.error = f"lightgbm not installed ({error})"

    table = Table(
        title=f"fit, one-application latency and batch throughput, {args.rows:,} x {args.features} "
        f"(batch over {len(X_batch):,} rows)"
    )
    for column in (
        "model",
        "fit rows",
        "fit s",
        "online p50 µs",
        "online p99 µs",
        "CPU p99 µs",
        "online call",
        "batch rows/s",
        "note",
    ):
        table.add_column(column, justify="left" if column in ("model", "online call", "note") else "right")
    for e in entries:
        if e.error and e.fit_s is None:
            table.add_row(e.name, "-", "-", "-", "-", "-", "", "-", f"[yellow]{e.error}[/]")
            continue
        table.add_row(
            e.name,
            f"{e.fit_rows:,}" if e.fit_rows else "-",
            f"{e.fit_s:.1f}" if e.fit_s is not None else "-",
            f"{e.online.p50_us:,.1f}" if e.online else "-",
            f"{e.online.p99_us:,.1f}" if e.online else "-",
            f"{e.online.cpu_p99_us:,.1f}" if e.online and e.online.cpu_p99_us is not None else "-",
            e.online.how if e.online else "",
            f"{e.batch_rows_s:,.0f}" if e.batch_rows_s else "-",
            f"[yellow]{e.error}[/]" if e.error else "",
        )
    console.print(table)

    def verdict(ok: bool | None) -> str:
        return "[yellow]not judged[/]" if ok is None else ("[green]met[/]" if ok else "[red]NOT MET[/]")

    full_size = args.rows >= 1_000_000 and args.features >= 100
    sc_fit = scorecard.fit_s if scorecard.error is None else None
    ob_fit = optbinning.fit_s if optbinning.error is None else None
    ratio = sc_fit / ob_fit if sc_fit and ob_fit else None
    size_note = "" if full_size else f" (at {args.rows:,} x {args.features}; the goal is for 1,000,000 x 100)"
    console.print(
        f"scorecard fit < {FIT_GOAL_S:g} s{size_note}: "
        f"{verdict(None if sc_fit is None else sc_fit < FIT_GOAL_S)} "
        f"(creditmesh {'-' if sc_fit is None else f'{sc_fit:.1f} s'}, optbinning "
        f"{'-' if ob_fit is None else f'{ob_fit:.1f} s'}, ratio creditmesh/optbinning "
        f"{'-' if ratio is None else f'{ratio:.3f}'})",
        highlight=False,
    )
    for e, goal_us in (
        (scorecard, ONLINE_P99_GOAL_US["scorecard"]),
        (gbm, ONLINE_P99_GOAL_US["gbm"]),
        (gbm_pd, ONLINE_P99_GOAL_US["gbm"]),
        (gbm_single, ONLINE_P99_GOAL_US["gbm"]),
    ):
        p99 = e.online.p99_us if e.online and e.error is None else None
        how = f" via {e.online.how}" if e.online else ""
        console.print(
            f"{e.name} online p99 < {goal_us:g} µs: {verdict(None if p99 is None else p99 < goal_us)} "
            f"({'-' if p99 is None else f'{p99:.1f} µs'}{how}{'' if e.error is None else ': ' + e.error})",
            highlight=False,
        )
    console.print(
        f"peak RSS {peak_rss_bytes() / 1e9:.2f} GB; load average at the end {load_average()}", highlight=False
    )

    def val(e: Entry, attr: str) -> float | None:
        if e.error is not None:
            return None
        if attr in ("p50_us", "p99_us", "cpu_p50_us", "cpu_p99_us"):
            value = None if e.online is None else getattr(e.online, attr)
            return None if value is None else round(value, 2)
        value = getattr(e, attr)
        return None if value is None else round(value, 3 if attr == "fit_s" else 0)

    size = f"{args.rows}x{args.features}"
    results = [
        result_row(
            f"scorecard_fit_s_{size}",
            "s",
            val(scorecard, "fit_s"),
            anchor=val(optbinning, "fit_s"),
            anchor_name="optbinning BinningProcess+LogisticRegression",
            goal=f"< {FIT_GOAL_S:g} s",
        ),
        result_row(
            f"scorecard_fit_ratio_{size}",
            "x",
            None if ratio is None else round(ratio, 4),
            anchor=1.0 if ob_fit else None,
            anchor_name="optbinning = 1",
        ),
        result_row(
            "scorecard_online_p50_us",
            "us",
            val(scorecard, "p50_us"),
            anchor=val(optbinning, "p50_us"),
            anchor_name="optbinning one-row predict_proba",
        ),
        result_row(
            "scorecard_online_p99_us",
            "us",
            val(scorecard, "p99_us"),
            anchor=val(optbinning, "p99_us"),
            anchor_name="optbinning one-row predict_proba",
            goal=f"< {ONLINE_P99_GOAL_US['scorecard']:g} us",
        ),
        result_row(
            "scorecard_batch_rows_per_s",
            "rows/s",
            val(scorecard, "batch_rows_s"),
            anchor=val(optbinning, "batch_rows_s"),
            anchor_name="optbinning predict_proba",
        ),
        result_row(
            "gbm_online_p50_us",
            "us",
            val(gbm, "p50_us"),
            anchor=val(lightgbm, "p50_us"),
            anchor_name="LightGBM default one-row predict_proba",
        ),
        result_row(
            "gbm_online_p99_us",
            "us",
            val(gbm, "p99_us"),
            anchor=val(lightgbm, "p99_us"),
            anchor_name="LightGBM default one-row predict_proba",
            goal=f"< {ONLINE_P99_GOAL_US['gbm']:g} us",
        ),
        result_row(
            "gbm_online_p99_thread_cpu_us",
            "us",
            val(gbm, "cpu_p99_us"),
            anchor=val(lightgbm, "cpu_p99_us"),
            anchor_name="LightGBM default one-row predict_proba (thread CPU)",
        ),
        result_row(
            "gbm_online_p99_ratio_to_lightgbm",
            "x",
            _ratio(val(gbm, "p99_us"), val(lightgbm, "p99_us")),
            anchor=1.0,
            anchor_name="LightGBM default one-row predict_proba p99, same run",
            goal="<= 2 (issue #22: PD with reasons)",
        ),
        result_row(
            "gbm_online_p99_thread_cpu_ratio_to_lightgbm",
            "x",
            _ratio(val(gbm, "cpu_p99_us"), val(lightgbm, "cpu_p99_us")),
            anchor=1.0,
            anchor_name="LightGBM default one-row predict_proba thread-CPU p99, same run",
            goal="<= 2",
        ),
        result_row(
            "gbm_online_pd_only_p99_us",
            "us",
            val(gbm_pd, "p99_us"),
            anchor=val(lightgbm, "p99_us"),
            anchor_name="LightGBM default one-row predict_proba",
            goal=f"< {ONLINE_P99_GOAL_US['gbm']:g} us",
        ),
        result_row(
            "gbm_single_online_pd_only_p99_us",
            "us",
            val(gbm_single, "p99_us"),
            anchor=val(lightgbm, "p99_us"),
            anchor_name="LightGBM default one-row predict_proba",
            goal=f"< {ONLINE_P99_GOAL_US['gbm']:g} us",
        ),
        result_row(
            "gbm_batch_rows_per_s",
            "rows/s",
            val(gbm, "batch_rows_s"),
            anchor=val(lightgbm, "batch_rows_s"),
            anchor_name="LightGBM default predict_proba",
        ),
    ]
    print_json_line(BENCHMARK, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
