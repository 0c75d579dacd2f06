"""benchmarks/results.py: RESULTS.md is the latest recorded run of each benchmark, goals read as comparisons."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import results  # noqa: E402


def _row(value, goal, anchor=None):
    return {
        "name": "x",
        "unit": "s",
        "creditmesh": value,
        "anchor": anchor,
        "anchor_name": None,
        "goal": goal,
    }


@pytest.mark.parametrize(
    ("value", "goal", "anchor", "met"),
    [
        (45.9, "< 60 s", None, True),
        (61.0, "< 60 s", None, False),
        (15374, ">= 50,000/s", None, False),
        (0.266, "<= 0.5 % of the LP optimum", None, True),
        (1476.8, ">= 0.5 x anchor", 3270.8, False),
        (1616.5, ">= 0.5 x anchor", 2965.7, True),
        (600, ">= 1/6 x anchor", 3000, True),
        (4.62, "faster than the anchor", 19.18, True),
        (4.62, "explain every mismatch", None, None),
        (None, "< 60 s", None, None),
        (1.0, ">= 0.5 x anchor", None, None),
    ],
)
def test_a_goal_is_judged_only_when_it_is_a_comparison(value, goal, anchor, met):
    assert results.goal_met(_row(value, goal, anchor)) is met


def test_the_latest_run_of_each_benchmark_is_the_one_shown():
    lines = [
        json.dumps({"benchmark": "a", "results": [_row(70.0, "< 60 s")], "recorded_at": "2026-01-01"}),
        json.dumps({"benchmark": "b", "results": [_row(1.0, "< 60 s")], "recorded_at": "2026-01-01"}),
        json.dumps({"benchmark": "a", "results": [_row(50.0, "< 60 s")], "recorded_at": "2026-02-01"}),
    ]
    latest = results.latest_runs(lines)
    assert latest["a"]["results"][0]["creditmesh"] == 50.0
    page = results.render(latest)
    assert "| x | s | 50 |" in page and "70" not in page


def test_results_md_is_what_the_recorded_runs_give():
    assert results.main(["--check"]) == 0, "run: python benchmarks/results.py"
