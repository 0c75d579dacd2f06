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


def print_json_line(benchmark: str, results: list[dict[str, Any]]) -> None:
    """The benchmark's last line on stdout: one compact JSON object."""
    sys.stdout.flush()
    print(json.dumps({"benchmark": benchmark, "results": results}, separators=(", ", ": ")), flush=True)


def make_console():
    """A rich console on stdout that does not squeeze tables to 80 columns when piped to a file."""
    from rich.console import Console

    probe = Console()
    return probe if probe.is_terminal else Console(width=max(probe.width, 180))


if __name__ == "__main__":  # a helper, not a benchmark
    sys.exit(0)
