"""The portfolio benchmark's synthetic book is sound, and DuckDB and the pandas reference agree on it."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_small_synthetic_book_is_sound_and_both_implementations_agree(tmp_path, monkeypatch):
    from rich.console import Console

    from creditmesh.portfolio import Book, book_problems, metric_series

    monkeypatch.setenv("CREDITMESH_CACHE", str(tmp_path))
    bench = _load("portfolio")
    folder, slice_folder = bench.build(40_000, 3, Console(quiet=True))
    assert (folder / "DONE").exists() and folder.parent == tmp_path
    with Book.open(folder) as book:
        assert book_problems(book) == []
        (rows,) = book.one("SELECT COUNT(*) FROM installments")
        assert rows >= 40_000
        ours = metric_series(book, "month", dt.date(2022, 1, 1), bench.END)
    reference, _, _ = bench.pandas_series(folder)
    assert len(ours) == 36
    assert bench.compare(ours, reference) == 0
    assert bench.build(40_000, 3, Console(quiet=True)) == (folder, slice_folder)  # cached


def test_taiwan_buckets():
    import numpy as np

    bench = _load("portfolio_rollrates")
    status = np.array([-2, -1, 0, 1, 2, 3, 4, 6, 7, 8])
    assert bench.taiwan_bucket(status).tolist() == [
        "current",
        "current",
        "current",
        "1-30",
        "31-60",
        "61-90",
        "91-180",
        "91-180",
        "180+",
        "180+",
    ]
