"""Benchmark: simulate N borrowers over 24 months and write the dataset as Parquet, end to end.

Goals (from the issues): 1,000,000 borrowers over 24 months in under 180 s wall time
and under 6 GB peak memory on a 2-core machine with the simulator's placeholders, and
in under 600 s and 8 GB through creditmesh's engines (issue 14: the burn-in and its
model, the decision engine with the graph's fraud check, the matcher's router, the shipped
collections strategy: the platform as ``creditmesh simulate`` runs it), each
size run both ways (``--engines``); 100,000 is run too, to show how time and memory scale.

Each size runs in a fresh child process (this script, re-run with a hidden
``--child`` flag), so the peak resident set size is that size's alone: the child
reads its own kernel high-water mark (``getrusage(RUSAGE_SELF).ru_maxrss``)
after simulating and again after writing. Inside the child, ``simulate_to`` streams
the dataset into a temporary folder under /tmp (removed afterwards and not timed),
each table written as it is built (issue 22): simulating and writing are one step,
"simulate s" (and "total"), with "write s" 0. On a simulator without ``simulate_to``
(before issue 22), ``simulate`` and ``write_dataset`` are timed separately and
"total" is their sum. Interpreter start-up and the
``creditmesh`` import are not counted. The child also reports every progress step
of the simulator (time, RSS, peak so far), which is printed as a phase breakdown
for the largest size, and which pinpoints the phase if a run crashes or is killed.

There is no external anchor for a synthetic-platform simulator (no other tool
produces these tables), so every result's ``anchor`` is null: the goal figures
are the anchor. Memory is in decimal GB (10**9 bytes), the stricter reading.

Usage::

    python benchmarks/simulate.py                      # 100,000 and 1,000,000
    python benchmarks/simulate.py --sizes 200000 --seed 3
    python benchmarks/simulate.py --quick              # 20,000 only, a smoke test
    python benchmarks/simulate.py --progress           # live progress lines on stderr
    python benchmarks/simulate.py --engines            # each size on the placeholders and on the engines

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import GB, current_rss_bytes, make_console, peak_rss_bytes, print_json_line, result_row

BENCHMARK = "simulate"
MONTHS = 24
DEFAULT_SIZES = (100_000, 1_000_000)
QUICK_SIZES = (20_000,)
#: The issue's goals, by number of borrowers: (wall seconds, peak GB).
GOALS = {1_000_000: (180.0, 6.0)}
ENGINE_GOALS = {1_000_000: (600.0, 8.0)}
EVENT = "@@EVENT "
RESULT = "@@RESULT "
HEARTBEAT_S = 1.0


# --- the child: one size, one fresh process ------------------------------------------------------------


def _child(borrowers: int, seed: int, tmp_root: str, engines: bool = False) -> None:
    clock0 = time.perf_counter()
    lock = threading.Lock()
    state = {"step": "import"}

    def emit(step: str, kind: str = "step") -> None:
        with lock:
            if kind == "step":
                state["step"] = step
            record = {
                "kind": kind,
                "step": state["step"],
                "t": round(time.perf_counter() - clock0, 4),
                "rss": current_rss_bytes(),
                "peak": peak_rss_bytes(),
            }
            sys.stderr.write(EVENT + json.dumps(record) + "\n")
            sys.stderr.flush()

    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(HEARTBEAT_S):
            emit("", kind="beat")

    threading.Thread(target=heartbeat, daemon=True).start()
    emit("import")
    import inspect

    from creditmesh import simulate as simulator

    import_s = time.perf_counter() - clock0
    emit("config")
    config = simulator.SimulationConfig(borrowers=borrowers, months=MONTHS, seed=seed)

    emit("simulate")
    options = {}
    if engines:  # as `creditmesh simulate` runs it; the burn-in and its model count in the simulation's time
        from creditmesh.collections.simulation import platform_engines, shipped_collector

        emit("burn-in")
        started = time.perf_counter()
        policy, funding = platform_engines(config, True)
        burn_in_s = time.perf_counter() - started
        options = {"policy": policy, "funding": funding, "collector": shipped_collector()}
    else:
        burn_in_s = 0.0
    folder = Path(tempfile.mkdtemp(prefix="creditmesh-bench-simulate-", dir=tmp_root))
    try:
        if hasattr(simulator, "simulate_to"):
            # streamed (issue 22): each table is written to its Parquet file as it is built, so simulating and
            # writing are one step, counted in "simulate s" ("write s" is 0)
            started = time.perf_counter()
            simulator.simulate_to(folder / "dataset", config, progress=emit, **options)
            simulate_s, write_s = time.perf_counter() - started + burn_in_s, 0.0
            emit("written")
            peak_after_simulate = peak_rss_bytes()
            files = json.loads((folder / "dataset" / "manifest.json").read_text())["files"]
            rows = {name.removesuffix(".parquet"): f["rows"] for name, f in files.items() if "/" not in name}
        else:  # the simulator before issue 22: the tables in memory, then written
            started = time.perf_counter()
            result = simulator.simulate(config, progress=emit, **options)
            simulate_s = time.perf_counter() - started + burn_in_s
            emit("simulated")
            peak_after_simulate = peak_rss_bytes()
            rows = {name: table.num_rows for name, table in result.tables.items()}
            writer_takes_progress = "progress" in inspect.signature(simulator.write_dataset).parameters
            extra = {"progress": emit} if writer_takes_progress else {}
            emit("write")
            started = time.perf_counter()
            simulator.write_dataset(result, folder / "dataset", overwrite=True, **extra)
            write_s = time.perf_counter() - started
            emit("written")
        disk_bytes = sum(p.stat().st_size for p in (folder / "dataset").rglob("*") if p.is_file())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    stop.set()
    record = {
        "borrowers": borrowers,
        "engines": engines,
        "seed": seed,
        "import_s": import_s,
        "simulate_s": simulate_s,
        "write_s": write_s,
        "total_s": simulate_s + write_s,
        "peak_after_simulate": peak_after_simulate,
        "peak": peak_rss_bytes(),
        "rows": rows,
        "disk_bytes": disk_bytes,
    }
    sys.stdout.write(RESULT + json.dumps(record) + "\n")
    sys.stdout.flush()


# --- the parent: run each size, gather, print ---------------------------------------------------------


def _children_peak_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024


def _run_size(
    borrowers: int, seed: int, tmp_root: str, timeout_s: float, live: bool, engines: bool = False
) -> dict[str, Any]:
    """Run one size in a fresh process; return its result record, or a crash record with where it died."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        str(borrowers),
        "--seed",
        str(seed),
        "--tmp",
        tmp_root,
        *(["--child-engines"] if engines else []),
    ]
    children_peak_before = _children_peak_bytes()
    events: list[dict[str, Any]] = []
    last_beat: dict[str, Any] = {}
    last_error: list[str] = []
    wall0 = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)

    def read_stderr() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(EVENT):
                event = json.loads(line[len(EVENT) :])
                if event["kind"] == "beat":
                    last_beat.clear()
                    last_beat.update(event)
                else:
                    events.append(event)
                if live and event["kind"] == "step":
                    rss = event["rss"] / GB if event["rss"] else float("nan")
                    sys.stderr.write(
                        f"[{borrowers:,}] {event['t']:8.2f}s  {event['step']:<28} rss {rss:5.2f} GB"
                        f"  peak {event['peak'] / GB:5.2f} GB\n"
                    )
            else:
                if line.strip():
                    last_error[:] = [line.strip()]
                sys.stderr.write(line)  # tracebacks and warnings from the child, never onto our stdout
        sys.stderr.flush()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    record: dict[str, Any] | None = None
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(RESULT):
            record = json.loads(line[len(RESULT) :])
        else:
            sys.stderr.write(line)
    returncode = proc.wait()
    timer.cancel()
    reader.join()
    children_peak_after = _children_peak_bytes()
    if record is not None and returncode == 0:
        record["events"] = events
        return record
    # Crashed, killed (OOM killer: -9) or timed out: say where.
    last = (
        last_beat
        if last_beat and (not events or last_beat["t"] >= events[-1]["t"])
        else (events[-1] if events else {})
    )
    peak = (
        children_peak_after
        if children_peak_after > children_peak_before
        else max([e["peak"] for e in events] + [last_beat.get("peak", 0)], default=0)
    )
    timed_out = time.perf_counter() - wall0 >= timeout_s
    return {
        "borrowers": borrowers,
        "engines": engines,
        "seed": seed,
        "failed": True,
        "returncode": returncode,
        "timed_out": timed_out,
        "step": last.get("step", "start-up"),
        "t": last.get("t"),
        "rss": last.get("rss"),
        "peak": peak,
        "events": events,
        "error": last_error[0] if last_error else "",
    }


#: What each simulator progress step covers, until the next step starts (see creditmesh.simulate.engine).
_PHASE_NAMES = {
    "import": "import creditmesh (not timed)",
    "borrowers": "borrowers (draw_population, institutions)",
    "identities": "identities + borrowers table + first line decisions",
    "tables": "tables (application/loan Arrow tables)",
}


def _phases(events: list[dict[str, Any]]) -> list[tuple[str, float, int | None, int]]:
    """(phase, seconds, RSS at its end, peak so far at its end), months folded into one row."""
    steps = [e for e in events if e["kind"] == "step"]
    raw = []
    for here, after in itertools.pairwise(steps):
        raw.append((here["step"], after["t"] - here["t"], after["rss"], after["peak"]))
    folded: list[tuple[str, float, int | None, int]] = []
    for name, seconds, rss, peak in raw:
        if name in ("config", "simulate", "simulated", "write", "written"):
            continue  # zero-length markers around the simulator's own steps
        name = _PHASE_NAMES.get(name, name)
        if name.startswith("month ") and folded and folded[-1][0].startswith("month loop"):
            _, total, _, _ = folded[-1]
            folded[-1] = (f"month loop (1-{name.split()[1].split('/')[0]})", total + seconds, rss, peak)
        elif name.startswith("month "):
            folded.append(("month loop (1-1)", seconds, rss, peak))
        else:
            folded.append((name, seconds, rss, peak))
    return folded


def _mode(run: dict[str, Any]) -> str:
    return "engines" if run.get("engines") else "placeholders"


def _verdict(ok: bool) -> str:
    return "[green]met[/]" if ok else "[red]NOT MET[/]"


def _gb(value: int | None) -> str:
    return "-" if value is None else f"{value / GB:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default=",".join(str(s) for s in DEFAULT_SIZES),
        help="comma-separated numbers of borrowers (default: %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="simulation seed (default: %(default)s)")
    parser.add_argument(
        "--quick", action="store_true", help=f"run only {QUICK_SIZES[0]:,} borrowers (a smoke test)"
    )
    parser.add_argument("--progress", action="store_true", help="print each simulator step live on stderr")
    parser.add_argument(
        "--engines", action="store_true", help="run each size on the engines too, beside the placeholders"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="kill a size's run after this many seconds (default: %(default)s)",
    )
    parser.add_argument("--tmp", default="/tmp", help=argparse.SUPPRESS)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-engines", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child is not None:
        _child(args.child, args.seed, args.tmp, args.child_engines)
        return 0

    try:
        sizes = (
            list(QUICK_SIZES)
            if args.quick
            else [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
        )
    except ValueError:
        parser.error(f"--sizes must be comma-separated integers, got {args.sizes!r}")
    if not sizes or any(s < 1 for s in sizes):
        parser.error("--sizes must hold at least one positive integer")

    from rich.table import Table

    console = make_console()
    console.print(
        f"[bold]creditmesh simulate benchmark[/]: {', '.join(f'{s:,}' for s in sizes)} borrowers x {MONTHS} months, "
        f"seed {args.seed}, {os.cpu_count()} CPUs, each size in a fresh process"
    )
    runs = []
    for size in sizes:
        for engines in (False, True) if args.engines else (False,):
            label = "engines" if engines else "placeholders"
            console.print(f"  running {size:,} on the {label} ...", highlight=False)
            runs.append(_run_size(size, args.seed, args.tmp, args.timeout, args.progress, engines))

    table = Table(title=f"simulate + write_dataset, {MONTHS} months (seed {args.seed})")
    for column in (
        "borrowers",
        "run on",
        "simulate s",
        "write s",
        "total s",
        "peak RSS GB",
        "peak after simulate GB",
        "loans",
        "installments",
        "identities",
        "installments rows/s",
        "parquet MB",
    ):
        table.add_column(column, justify="right")
    for run in runs:
        if run.get("failed"):
            why = "timed out" if run["timed_out"] else f"crashed (exit {run['returncode']})"
            table.add_row(
                f"{run['borrowers']:,}",
                _mode(run),
                f"[red]{why} in '{run['step']}' at {run['t'] or 0:.1f} s, "
                f"RSS {_gb(run['rss'])} GB: {run['error'][:120]}[/]",
                "",
                "",
                _gb(run["peak"]),
                "",
                "",
                "",
                "",
                "",
                "",
            )
            continue
        rows = run["rows"]
        table.add_row(
            f"{run['borrowers']:,}",
            _mode(run),
            f"{run['simulate_s']:.1f}",
            f"{run['write_s']:.1f}",
            f"{run['total_s']:.1f}",
            _gb(run["peak"]),
            _gb(run["peak_after_simulate"]),
            f"{rows.get('loans', 0):,}",
            f"{rows.get('installments', 0):,}",
            f"{rows.get('identities', 0):,}",
            f"{rows.get('installments', 0) / max(run['total_s'], 1e-9):,.0f}",
            f"{run['disk_bytes'] / 1e6:,.0f}",
        )
    console.print(table)

    done = [r for r in runs if not r.get("failed") and not r.get("engines")]
    if len(done) >= 2:
        small, large = min(done, key=lambda r: r["borrowers"]), max(done, key=lambda r: r["borrowers"])
        factor = large["borrowers"] / small["borrowers"]
        console.print(
            f"scaling {small['borrowers']:,} -> {large['borrowers']:,} (x{factor:g} borrowers): "
            f"time x{large['total_s'] / small['total_s']:.2f}, peak RSS x{large['peak'] / small['peak']:.2f}",
            highlight=False,
        )

    largest = max(runs, key=lambda r: (r["borrowers"], r.get("engines", False)))
    if _phases(largest["events"]):
        phases = Table(
            title=f"where the time goes, {largest['borrowers']:,} borrowers (phase = simulator progress step)"
        )
        for column in ("phase", "seconds", "RSS at end GB", "peak so far GB"):
            phases.add_column(column, justify="left" if column == "phase" else "right")
        for name, seconds, rss, peak in _phases(largest["events"]):
            phases.add_row(name, f"{seconds:.2f}", _gb(rss), _gb(peak))
        console.print(phases)

    for engines, size, (goal_s, goal_gb) in [
        *((False, size, goal) for size, goal in GOALS.items()),
        *((True, size, goal) for size, goal in ENGINE_GOALS.items() if args.engines),
    ]:
        run = next((r for r in runs if r["borrowers"] == size and r.get("engines") == engines), None)
        if run is None:
            console.print(
                f"goal check ({size:,}, {_mode({'engines': engines})}): not run (sizes: {', '.join(f'{s:,}' for s in sizes)})",
                highlight=False,
            )
            continue
        if run.get("failed"):
            console.print(
                f"goal check ({size:,}, {_mode({'engines': engines})}): [red]NOT MET[/] - the run did not finish "
                f"(last step '{run['step']}', peak {_gb(run['peak'])} GB)",
                highlight=False,
            )
            continue
        time_ok, mem_ok = run["total_s"] < goal_s, run["peak"] / GB < goal_gb
        console.print(
            f"goal check ({size:,}, {_mode({'engines': engines})}): total {run['total_s']:.1f} s < {goal_s:g} s: {_verdict(time_ok)}; "
            f"peak RSS {run['peak'] / GB:.2f} GB < {goal_gb:g} GB: {_verdict(mem_ok)}",
            highlight=False,
        )

    results = []
    for run in runs:
        size = run["borrowers"]
        goal_s, goal_gb = (ENGINE_GOALS if run.get("engines") else GOALS).get(size, (None, None))
        failed = run.get("failed", False)
        suffix = "_engines" if run.get("engines") else ""
        results.append(
            result_row(
                f"wall_s_{size}{suffix}",
                "s",
                None if failed else round(run["total_s"], 2),
                goal=None if goal_s is None else f"< {goal_s:g} s",
            )
        )
        results.append(
            result_row(
                f"peak_rss_gb_{size}{suffix}",
                "GB",
                None if failed else round(run["peak"] / GB, 3),
                goal=None if goal_gb is None else f"< {goal_gb:g} GB",
            )
        )
    print_json_line(BENCHMARK, results)
    return 1 if any(r.get("failed") for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
