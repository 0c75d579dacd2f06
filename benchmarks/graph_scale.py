"""Benchmark: the relationship graph at 1M and 10M borrowers: build, components, propagation, features.

Goal (issue #6): 10,000,000 borrowers with about 60,000,000 identity rows built, split into
components, propagated from the black list and turned into point-in-time features per
application in under 5 minutes and under 12 GB peak memory on 2 cores; and on the
1,000,000-borrower graph, networkx and python-igraph doing the same components and
personalised PageRank, side by side (goal: >= 20x faster than networkx, no slower than igraph;
issue #22: PageRank >= 2x igraph at 1M and at 10M, where igraph alone runs beside it).

The identity rows are synthetic, generated directly with numpy (the simulator makes
about 9.5 rows a borrower and its month loop is the slow part at 10M): every borrower
has a phone, a device (10 % share the household's tablet), a home IP (40 % also a public
IP from a heavy-tailed pool of 2,000: hubs), a household address, a bank card, an
employer when salaried (Zipf), and Poisson(0.6) contacts (30 % of them borrowers'
phones); 0.4 % of borrowers sit in rings of 4-16 that share 1-4 devices, 2 IPs, 3
addresses, a shell employer and each other's phones. The rows are made as hashed
strings, so the build starts where a real one does: from the identities table's text
(the ``encode`` stage turns strings into integer codes). One application per borrower
(registered_at + an exponential delay of mean 30 days), a black list of half the ring
members and 0.1 % of others, and 3 % delinquent borrowers feed the features.

Each size runs in a fresh child process, so each peak resident set size is that size's
alone; the networkx / igraph comparison runs in the same child after its stages (igraph only at 10M).

Usage::

    python benchmarks/graph_scale.py                         # 1,000,000 and 10,000,000 + comparison at 1M
    python benchmarks/graph_scale.py --borrowers 200000      # a quick run at one size (comparison at that size)
    python benchmarks/graph_scale.py --no-compare

The last line on stdout is one JSON object (see ``_common.print_json_line``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import GB, make_console, peak_rss_bytes, print_json_line, result_row

BENCHMARK = "graph_scale"
DEFAULT_SIZES = (1_000_000, 10_000_000)
GOAL_SECONDS, GOAL_GB = 300.0, 12.0
GOAL_NETWORKX_RATIO = 20.0
GOAL_IGRAPH_PAGERANK_RATIO = 2.0  # issue #22
RESULT = "@@RESULT "
DAY_US = 86_400_000_000
START_US = 1_672_531_200_000_000  # 2023-01-01 UTC
HORIZON_DAYS = 730
DAMPING = 0.5


def synthetic_platform(n: int, seed: int = 0):
    """(identities, borrowers, applications, blacklist, delinquency) as Arrow / pandas, made with numpy only."""
    import pandas as pd
    import pyarrow as pa

    from creditmesh.ids import format_ids, hex_strings, splitmix64

    rng = np.random.default_rng(seed)
    everyone = np.arange(n, dtype=np.int64)
    household = rng.permutation(np.searchsorted(np.cumsum(rng.integers(1, 5, n)), everyone, side="right"))
    ring_members = int(0.004 * n)
    sizes = rng.integers(4, 17, max(1, ring_members // 10))
    sizes = sizes[np.cumsum(sizes) <= ring_members]
    ring = np.full(n, -1, dtype=np.int64)
    chosen = rng.choice(n, int(sizes.sum()), replace=False)
    ring[chosen] = np.repeat(np.arange(sizes.shape[0]), sizes)
    in_ring = ring >= 0
    parts = []  # (borrower, kind code, entity number); entity spaces kept apart by high bits

    def add(who, kind, entity):
        parts.append((np.asarray(who, dtype=np.int64), kind, np.asarray(entity, dtype=np.int64)))  # noqa: F821 (del below)

    phone, device, ip, address, contact, card, employer = range(7)
    add(everyone, phone, everyone)
    own_device = np.where(rng.random(n) < 0.10, (1 << 34) + household, everyone)
    add(everyone, device, np.where(in_ring, (1 << 36) + ring * 4 + rng.integers(0, 4, n), own_device))
    add(everyone, ip, np.where(in_ring, (1 << 36) + ring * 2 + rng.integers(0, 2, n), (1 << 34) + household))
    public = rng.random(n) < 0.4
    add(everyone[public], ip, (1 << 35) + np.minimum(rng.zipf(1.3, public.sum()), 2_000))
    add(everyone, address, np.where(in_ring, (1 << 36) + ring * 3 + rng.integers(0, 3, n), household))
    add(everyone, card, everyone)
    salaried = (rng.random(n) < 0.5) | in_ring
    add(
        everyone[salaried],
        employer,
        np.where(
            in_ring[salaried],
            (1 << 36) + ring[salaried],
            np.minimum(rng.zipf(1.6, salaried.sum()), 5_000_000),
        ),
    )
    count = rng.poisson(0.6, n)
    owner = np.repeat(everyone, count)
    outside = rng.random(owner.shape[0]) < 0.7
    add(
        owner,
        contact,
        np.where(
            outside, (1 << 40) + rng.integers(0, 50 * n, owner.shape[0]), rng.integers(0, n, owner.shape[0])
        ),
    )
    members = np.flatnonzero(in_ring)
    order = members[np.argsort(ring[members], kind="stable")]
    starts = np.searchsorted(ring[order], ring[order])
    ring_sizes = np.searchsorted(ring[order], ring[order], side="right") - starts
    fellow = order[starts + (rng.random(order.shape[0]) * ring_sizes).astype(np.int64)]
    add(order, contact, fellow)
    borrower = np.concatenate([p[0] for p in parts])
    kind = np.concatenate([np.full(p[0].shape[0], p[1], dtype=np.int8) for p in parts])
    entity = np.concatenate([p[2] for p in parts])
    del parts
    hash_kind = np.where(kind == contact, phone, kind).astype(np.uint64)
    values = hex_strings(splitmix64(entity.astype(np.uint64) ^ (hash_kind << np.uint64(56))))
    del entity, hash_kind
    kinds = ("phone", "device", "ip", "address", "contact", "bank_card", "employer")
    borrower_ids = format_ids("B", everyone)
    identities = pa.table(
        {
            "borrower_id": borrower_ids.take(pa.array(borrower)),
            "kind": pa.DictionaryArray.from_arrays(pa.array(kind.astype(np.int32)), pa.array(kinds)),
            "value": values,
        }
    )
    del borrower, kind, values
    registered = START_US + rng.integers(0, HORIZON_DAYS * DAY_US, n)
    # rings burst in: members register within a week of each other
    burst = START_US + rng.integers(0, (HORIZON_DAYS - 60) * DAY_US, sizes.shape[0] + 1)
    registered[in_ring] = burst[ring[in_ring]] + rng.integers(0, 7 * DAY_US, in_ring.sum())
    borrowers = pa.table(
        {
            "borrower_id": borrower_ids,
            "registered_at": pa.array(registered, type=pa.timestamp("us", tz="UTC")),
        }
    )
    applied = registered + rng.exponential(30 * DAY_US, n).astype(np.int64)
    applications = pa.table(
        {
            "application_id": format_ids("A", everyone),
            "borrower_id": borrower_ids,
            "applied_at": pa.array(applied, type=pa.timestamp("us", tz="UTC")),
        }
    )
    listed = (in_ring & (rng.random(n) < 0.5)) | (rng.random(n) < 0.001)
    blacklist = pd.DataFrame(
        {
            "borrower_id": borrower_ids.filter(pa.array(listed)).to_numpy(zero_copy_only=False),
            "listed_at": pd.to_datetime(registered[listed] + 90 * DAY_US, unit="us", utc=True),
        }
    )
    late = rng.random(n) < 0.03
    delinquency = pd.DataFrame(
        {
            "borrower_id": borrower_ids.filter(pa.array(late)).to_numpy(zero_copy_only=False),
            "delinquent_at": pd.to_datetime(registered[late] + 120 * DAY_US, unit="us", utc=True),
        }
    )
    return identities, borrowers, applications, blacklist, delinquency


def _stage_peak_reset() -> None:
    """Reset the kernel's high-water mark of this process (Linux: clear_refs 5), so each stage's own peak shows."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


def _stage_peak_bytes() -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _child(n: int, compare: str | None) -> None:
    import gc

    import pyarrow.compute as pc

    from creditmesh.graph import build_graph, encode_identities
    from creditmesh.graph.build import timestamps_us
    from creditmesh.graph.features import PointInTimeGraph, seen_at_us
    from creditmesh.graph.labels import label_times_us
    from creditmesh.graph.lists import risk_scores
    from creditmesh.graph.rings import components

    record: dict = {"borrowers": n, "seconds": {}}
    clock = time.perf_counter()
    identities, borrowers, applications, blacklist, delinquency = synthetic_platform(n)
    record["generate_s"] = time.perf_counter() - clock
    record["generate_peak"] = peak_rss_bytes()
    sys.stderr.write(
        f"[{n:,}] synthetic rows made in {record['generate_s']:.1f} s (not timed), peak {peak_rss_bytes() / GB:.2f} GB\n"
    )
    record["identity_rows"] = identities.num_rows
    as_of_us = START_US + HORIZON_DAYS * DAY_US

    def stage(name, fn):
        _stage_peak_reset()
        started = time.perf_counter()
        out = fn()
        record["seconds"][name] = time.perf_counter() - started
        record.setdefault("stage_peak", {})[name] = _stage_peak_bytes()
        sys.stderr.write(
            f"[{n:,}] {name}: {record['seconds'][name]:.2f} s, stage peak "
            f"{(_stage_peak_bytes() or 0) / GB:.2f} GB, process peak {peak_rss_bytes() / GB:.2f} GB\n"
        )
        return out

    encoded, report = stage("encode", lambda: encode_identities(identities, borrowers))  # noqa: F821 (del below)
    del identities
    gc.collect()
    graph = stage("build", lambda: build_graph(encoded, report=report))
    record["summary"] = graph.summary()
    labels = stage("components", lambda: components(graph))
    sizes = np.bincount(labels)
    record["components_2plus"] = int((sizes >= 2).sum())
    record["largest_component"] = int(sizes.max())
    score, black, iterations = stage("propagation", lambda: risk_scores(graph, blacklist, as_of_us=as_of_us))
    record["pagerank_iterations"] = iterations
    record["grey_listed"] = int(((score >= 0.05) & ~black).sum())

    def features():
        app_borrower = (
            pc.index_in(applications["borrower_id"], value_set=encoded.borrower_ids)
            .to_numpy()
            .astype(np.int64)
        )
        applied = timestamps_us(applications["applied_at"], "applied_at")
        seen = seen_at_us(encoded.registered_at_us, app_borrower, applied)
        pit = PointInTimeGraph.build(
            encoded, seen, graph.config, incidence=graph.incidence, links=graph.links
        )
        return pit.features(
            app_borrower,
            applied,
            blacklist_us=label_times_us(graph, blacklist),
            delinquent_us=label_times_us(graph, delinquency),
        )

    frame = stage("features", features)
    record["feature_rows"] = len(frame)
    record["ring_members_by_feature"] = int((frame["ring_size"] >= 3).sum())
    record["total_s"] = sum(record["seconds"].values())
    # the high-water mark is reset per stage, so the process's peak is the largest of the stages' (and generation's)
    record["peak"] = max([record["generate_peak"], *[p or 0 for p in record["stage_peak"].values()]])
    if compare:
        del frame
        gc.collect()
        record["compare"] = _compare(graph, black, score, networkx=compare == "all")
        del graph
        gc.collect()
        if compare == "all":
            record["online"] = _online_latency(min(n, ONLINE_INDEX_BORROWERS))
    sys.stdout.write(RESULT + json.dumps(record) + "\n")
    sys.stdout.flush()


def _compare(graph, black: np.ndarray, ours_score: np.ndarray, *, networkx: bool = True) -> dict:
    """The same components and personalised PageRank with igraph and (``networkx=True``) networkx,
    construction timed apart."""
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    from creditmesh.graph.lists import personalised_pagerank

    out: dict = {}
    strong = graph.strong
    links = graph.links
    seeds = black.astype(np.float64)
    started = time.perf_counter()
    n_ours, _ = connected_components(strong, directed=False)
    out["ours_components_s"] = time.perf_counter() - started
    started = time.perf_counter()
    rank, iterations = personalised_pagerank(links, seeds, damping=DAMPING)
    out["ours_pagerank_s"] = time.perf_counter() - started
    out["ours_pagerank_iterations"] = iterations
    upper_strong = sp.triu(strong, k=1).tocoo()
    upper_links = sp.triu(links, k=1).tocoo()
    n = graph.n_borrowers
    ours_norm = rank / rank.sum()
    try:
        import igraph as ig

        started = time.perf_counter()
        g_strong = ig.Graph(n=n, edges=np.column_stack([upper_strong.row, upper_strong.col]).tolist())
        g_links = ig.Graph(n=n, edges=np.column_stack([upper_links.row, upper_links.col]).tolist())
        g_links.es["weight"] = upper_links.data.tolist()
        out["igraph_construct_s"] = time.perf_counter() - started
        started = time.perf_counter()
        n_ig = len(g_strong.connected_components())
        out["igraph_components_s"] = time.perf_counter() - started
        started = time.perf_counter()
        pr = np.array(g_links.personalized_pagerank(damping=DAMPING, reset=seeds.tolist(), weights="weight"))
        out["igraph_pagerank_s"] = time.perf_counter() - started
        out["igraph_components_agree"] = n_ig == n_ours
        linked = np.asarray(links.sum(axis=1)).ravel() > 0
        out["igraph_pagerank_max_abs_diff_linked"] = float(
            np.abs(pr[linked] / pr.sum() - ours_norm[linked]).max()
        )
        del g_strong, g_links
    except ImportError:
        out["igraph"] = "not installed (make install-bench)"
    if not networkx:
        return out
    try:
        import networkx as nx

        started = time.perf_counter()
        g_strong = nx.Graph()
        g_strong.add_nodes_from(range(n))
        g_strong.add_edges_from(zip(upper_strong.row.tolist(), upper_strong.col.tolist()))
        g_links = nx.Graph()
        g_links.add_nodes_from(range(n))
        g_links.add_weighted_edges_from(
            zip(upper_links.row.tolist(), upper_links.col.tolist(), upper_links.data.tolist())
        )
        out["networkx_construct_s"] = time.perf_counter() - started
        started = time.perf_counter()
        n_nx = nx.number_connected_components(g_strong)
        out["networkx_components_s"] = time.perf_counter() - started
        personalization = {int(i): 1.0 for i in np.flatnonzero(black)}
        started = time.perf_counter()
        # the same stopping rule as ours: the L1 change relative to the total mass below 1e-9
        # (networkx stops when the change of its sum-1 vector is below n * tol)
        pr = nx.pagerank(
            g_links,
            alpha=DAMPING,
            personalization=personalization,
            weight="weight",
            tol=1e-9 / n,
            max_iter=1000,
        )
        out["networkx_pagerank_s"] = time.perf_counter() - started
        out["networkx_components_agree"] = n_nx == n_ours
        values = np.array([pr[i] for i in range(n)])
        linked = np.asarray(links.sum(axis=1)).ravel() > 0
        out["networkx_pagerank_max_abs_diff_linked"] = float(np.abs(values[linked] - ours_norm[linked]).max())
    except ImportError:
        out["networkx"] = "not installed (make install-bench)"
    return out


ONLINE_INDEX_BORROWERS = 200_000
ONLINE_QUERIES = 20_000


def _online_latency(n: int) -> dict:
    """Replay n synthetic borrowers into the online index (not timed), then time applications of new borrowers
    that share identifiers with those already in it: p50 / p99 of add-and-answer, and a save/load round trip."""
    import tempfile

    import pyarrow.compute as pc

    from creditmesh.graph.build import timestamps_us
    from creditmesh.graph.features import OnlineIndex

    identities, borrowers, _, blacklist, _ = synthetic_platform(n + ONLINE_QUERIES, seed=1)
    ids = borrowers["borrower_id"].to_pylist()
    seen = timestamps_us(borrowers["registered_at"], "registered_at")
    order = np.argsort(seen, kind="stable")
    owner = pc.index_in(identities["borrower_id"], value_set=borrowers["borrower_id"]).to_numpy()
    rows_order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[rows_order], np.arange(len(ids) + 1))
    kinds = identities["kind"].cast("string").to_numpy(zero_copy_only=False)[rows_order]
    values = identities["value"].to_numpy(zero_copy_only=False)[rows_order]
    listed = dict(zip(blacklist["borrower_id"], blacklist["listed_at"].astype("int64") // 1000))
    index = OnlineIndex()
    started = time.perf_counter()
    for b in order[:n]:
        index.add_borrower(
            ids[b], int(seen[b]), zip(kinds[starts[b] : starts[b + 1]], values[starts[b] : starts[b + 1]])
        )
        if ids[b] in listed:
            index.add_label(ids[b], "blacklist", int(listed[ids[b]]))
    replay_s = time.perf_counter() - started
    latest = int(seen[order[n - 1]])
    timings = []
    for k, b in enumerate(order[n:]):
        rows = list(zip(kinds[starts[b] : starts[b + 1]], values[starts[b] : starts[b + 1]]))
        at = latest + k + 1
        started = time.perf_counter()
        index.apply(ids[b], at, rows)
        timings.append(time.perf_counter() - started)
    timings_us = np.array(timings) * 1e6
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        index.save(Path(folder) / "index")
        save_s = time.perf_counter() - started
        started = time.perf_counter()
        OnlineIndex.load(Path(folder) / "index")
        load_s = time.perf_counter() - started
    return {
        "index_borrowers": n,
        "queries": len(timings),
        "replay_s": replay_s,
        "p50_us": float(np.percentile(timings_us, 50)),
        "p99_us": float(np.percentile(timings_us, 99)),
        "max_us": float(timings_us.max()),
        "save_s": save_s,
        "load_s": load_s,
    }


def _run(n: int, compare: str | None, timeout_s: float) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(n)] + (
        ["--compare", compare] if compare else []
    )
    started = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"borrowers": n, "failed": True, "error": f"timed out after {timeout_s:g} s"}
    sys.stderr.write(done.stderr)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT):
            record = json.loads(line[len(RESULT) :])
            record["wall_s"] = time.perf_counter() - started
            return record
    return {
        "borrowers": n,
        "failed": True,
        "error": f"exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--borrowers", type=int, default=None, help="run one size only (default: 1M and 10M)")
    parser.add_argument("--no-compare", action="store_true", help="skip networkx and igraph")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--compare", choices=("all", "igraph"), default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        _child(args.child, args.compare)
        return 0
    sizes = [args.borrowers] if args.borrowers else list(DEFAULT_SIZES)
    if any(s < 100 for s in sizes):
        parser.error("--borrowers must be at least 100")
    compare_at = None if args.no_compare else min(sizes)

    from rich.table import Table

    console = make_console()
    console.print(
        f"[bold]creditmesh graph_scale[/]: {', '.join(f'{s:,}' for s in sizes)} borrowers, synthetic identity rows "
        f"made with numpy (not the simulator), {os.cpu_count()} CPUs, each size in a fresh process"
    )
    # networkx (and the online index) at the smallest size; igraph's PageRank and components at every size
    runs = [
        _run(s, None if args.no_compare else "all" if s == compare_at else "igraph", args.timeout)
        for s in sizes
    ]
    stages = ("encode", "build", "components", "propagation", "features")
    table = Table(title="seconds per stage and peak memory")
    for column in (
        "borrowers",
        "identity rows",
        *stages,
        "total s",
        "peak GB",
        "links",
        "strong",
        "hubs",
        "rings 2+",
        "largest",
    ):
        table.add_column(column, justify="right")
    for run in runs:
        if run.get("failed"):
            table.add_row(f"{run['borrowers']:,}", f"[red]{run['error']}[/]")
            continue
        s = run["seconds"]
        summary = run["summary"]
        table.add_row(
            f"{run['borrowers']:,}",
            f"{run['identity_rows']:,}",
            *[f"{s[k]:.2f}" for k in stages],
            f"{run['total_s']:.1f}",
            f"{run['peak'] / GB:.2f}",
            f"{summary['links']:,}",
            f"{summary['strong_links']:,}",
            f"{summary['hub_identifiers']:,}",
            f"{run['components_2plus']:,}",
            f"{run['largest_component']:,}",
        )
    console.print(table)
    done = [r for r in runs if not r.get("failed")]
    if len(done) >= 2:
        small, large = done[0], done[-1]
        growth = {k: large["seconds"][k] / max(small["seconds"][k], 1e-9) for k in stages}
        console.print(
            f"growth {small['borrowers']:,} -> {large['borrowers']:,}: "
            + ", ".join(f"{k} x{v:.1f}" for k, v in growth.items())
            + f", total x{large['total_s'] / small['total_s']:.1f}, peak x{large['peak'] / small['peak']:.1f}",
            highlight=False,
        )
    results = []
    for run in runs:
        n = run["borrowers"]
        goal = n == 10_000_000
        if run.get("failed"):
            results.append(
                result_row(f"total_s_{n}", "s", None, goal=f"< {GOAL_SECONDS:g} s" if goal else None)
            )
            continue
        for k in stages:
            results.append(result_row(f"{k}_s_{n}", "s", round(run["seconds"][k], 2)))
        results.append(
            result_row(
                f"total_s_{n}", "s", round(run["total_s"], 2), goal=f"< {GOAL_SECONDS:g} s" if goal else None
            )
        )
        results.append(
            result_row(
                f"peak_rss_gb_{n}",
                "GB",
                round(run["peak"] / GB, 3),
                goal=f"< {GOAL_GB:g} GB" if goal else None,
            )
        )
        if goal:
            ok_t, ok_m = run["total_s"] < GOAL_SECONDS, run["peak"] / GB < GOAL_GB
            console.print(
                f"goal 10M: total {run['total_s']:.1f} s < {GOAL_SECONDS:g} s: {'met' if ok_t else 'NOT MET'}; "
                f"peak {run['peak'] / GB:.2f} GB < {GOAL_GB:g} GB: {'met' if ok_m else 'NOT MET'}",
                highlight=False,
            )
        compare = run.get("compare")
        if compare:
            lines = [f"side by side at {n:,} borrowers (algorithm time; graph construction apart):"]
            for task in ("components", "pagerank"):
                ours = compare[f"ours_{task}_s"]
                for other in ("networkx", "igraph"):
                    theirs = compare.get(f"{other}_{task}_s")
                    if theirs is None:
                        continue
                    ratio = theirs / max(ours, 1e-9)
                    lines.append(f"  {task}: creditmesh {ours:.3f} s, {other} {theirs:.3f} s -> {ratio:.1f}x")
                    goal_text = (
                        f">= {GOAL_NETWORKX_RATIO:g}x"
                        if other == "networkx"
                        else f">= {GOAL_IGRAPH_PAGERANK_RATIO:g}x"
                        if task == "pagerank"
                        else ">= 1x"
                    )
                    results.append(
                        result_row(
                            f"{task}_speedup_vs_{other}_{n}",
                            "x",
                            round(ratio, 2),
                            anchor=round(theirs, 3),
                            anchor_name=f"{other} {task} s",
                            goal=goal_text,
                        )
                    )
            for other in ("networkx", "igraph"):
                if f"{other}_construct_s" in compare:
                    lines.append(
                        f"  {other} graph construction {compare[f'{other}_construct_s']:.1f} s; components agree: "
                        f"{compare[f'{other}_components_agree']}; PageRank max |diff| on linked borrowers "
                        f"{compare[f'{other}_pagerank_max_abs_diff_linked']:.2e}"
                    )
            console.print("\n".join(lines), highlight=False)
        online = run.get("online")
        if online:
            console.print(
                f"online index ({online['index_borrowers']:,} borrowers replayed in {online['replay_s']:.1f} s): "
                f"{online['queries']:,} new applications added and answered, p50 {online['p50_us']:.0f} µs, "
                f"p99 {online['p99_us']:.0f} µs, max {online['max_us']:.0f} µs (goal p99 < 1,000 µs); "
                f"save {online['save_s']:.1f} s, load {online['load_s']:.1f} s",
                highlight=False,
            )
            results.append(
                result_row("online_apply_p99_us", "µs", round(online["p99_us"], 1), goal="< 1000 µs")
            )
    print_json_line(BENCHMARK, results)
    return 1 if any(r.get("failed") for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
