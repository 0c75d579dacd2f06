"""Small helpers shared by the benchmark scripts: memory readings, the result rows, the closing JSON line.

Every benchmark ends with exactly one JSON line on stdout::

    {"benchmark": "<name>", "results": [{"name": ..., "unit": ..., "creditmesh": ..., "anchor": ...,
                                          "anchor_name": ..., "goal": ...}, ...]}

and prints nothing to stdout after it. Importing this module has no side effects,
and running it as a script (``make bench`` loops over ``benchmarks/*.py``) does nothing.
"""

from __future__ import annotations

import json
import os
import resource
import sys
from typing import Any

#: Memory is reported in decimal gigabytes (10**9 bytes), the stricter reading of a "6 GB" goal.
GB = 1_000_000_000


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far (the kernel's high-water mark)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # Linux reports KiB, macOS bytes


def current_rss_bytes() -> int | None:
    """This process's resident set size right now, or None where it cannot be read cheaply."""
    try:
        with open("/proc/self/statm", "rb") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except Exception:  # noqa: BLE001 - psutil is optional (the "bench" extra)
        return None


def load_average() -> str:
    """The 1-minute load average as text: on a shared machine, other jobs move every timing."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "n/a"


def result_row(
    name: str,
    unit: str,
    value: float | None,
    *,
    goal: str | None = None,
    anchor: float | None = None,
    anchor_name: str | None = None,
) -> dict[str, Any]:
    """One entry of the closing JSON line's ``results``."""
    return {
        "name": name,
        "unit": unit,
        "creditmesh": value,
        "anchor": anchor,
        "anchor_name": anchor_name,
        "goal": goal,
    }


def print_json_line(
    benchmark: str, results: list[dict[str, Any]], *, anchors: dict[str, str] | None = None
) -> None:
    """The benchmark's last line on stdout: one compact JSON object; also recorded for ``RESULTS.md``.

    ``anchors`` maps each anchor's name (as in the rows' ``anchor_name``) to its configuration, which
    ``RESULTS.md`` lists under the benchmark's table.
    """
    sys.stdout.flush()
    line: dict[str, Any] = {"benchmark": benchmark, "results": results}
    if anchors:
        line["anchors"] = anchors
    print(json.dumps(line, separators=(", ", ": ")), flush=True)
    record_run(benchmark, results, anchors=anchors)


#: Where runs are recorded: ``benchmarks/results.jsonl`` unless ``CREDITMESH_BENCH_RESULTS`` names another
#: file (an empty value records nothing). Runs under pytest are never recorded.
RESULTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.jsonl")


def machine() -> dict[str, Any]:
    """What the figures were measured on: the cores, the memory, the platform, the load at the end."""
    import platform

    try:
        memory_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GB, 1)
    except (ValueError, OSError, AttributeError):
        memory_gb = None
    return {
        "cpus": os.cpu_count(),
        "memory_gb": memory_gb,
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "load_average_1m": load_average(),
    }


def _commit() -> str | None:
    import subprocess

    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=os.path.dirname(RESULTS_FILE),
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def record_run(
    benchmark: str, results: list[dict[str, Any]], *, anchors: dict[str, str] | None = None
) -> None:
    """Append one run (the closing line, the machine, the load, the commit) to the results file."""
    target = os.environ.get("CREDITMESH_BENCH_RESULTS", RESULTS_FILE)
    if not target or "PYTEST_CURRENT_TEST" in os.environ:
        return
    from datetime import UTC, datetime

    run = {
        "benchmark": benchmark,
        "results": results,
        "recorded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(),
        "machine": machine(),
        "command": " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]),
    }
    if anchors:
        run["anchors"] = anchors
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(run, separators=(", ", ": ")) + "\n")


def make_console():
    """A rich console on stdout that does not squeeze tables to 80 columns when piped to a file."""
    from rich.console import Console

    probe = Console()
    return probe if probe.is_terminal else Console(width=max(probe.width, 180))


if __name__ == "__main__":  # a helper, not a benchmark
    sys.exit(0)
