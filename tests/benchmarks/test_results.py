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
        (1, "1", None, True),
        (0, "1", None, False),
        (1, "1.0 on 100,000 random inputs", None, None),
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


def test_an_earlier_run_of_other_figures_of_the_same_benchmark_is_shown_under_the_latest():
    def run(name, value, when, **extra):
        row = dict(_row(value, "< 60 s"), name=name)
        return json.dumps({"benchmark": "q", "results": [row], "recorded_at": when, **extra})

    lines = [
        run("old", 1.0, "2026-01-01", source="transcribed"),  # notes: history, not shown
        run("scorecard", 20.0, "2026-01-02"),  # superseded by the later scorecard run
        run("scorecard", 30.0, "2026-01-03"),  # other figures than the latest: still current
        run("gbm", 40.0, "2026-01-04"),
    ]
    latest = results.latest_runs(lines)["q"]
    assert latest["results"][0]["name"] == "gbm"
    assert [r["results"][0]["creditmesh"] for r in latest["_also"]] == [30.0]
    page = results.render({"q": latest})
    assert "| gbm | s | 40 |" in page and "| scorecard | s | 30 |" in page
    assert "| scorecard | s | 20 |" not in page and "| old |" not in page


def test_results_md_is_what_the_recorded_runs_give():
    assert results.main(["--check"]) == 0, "run: python benchmarks/results.py"
