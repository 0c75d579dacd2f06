import numpy as np
import pytest
from _graphs import frames

from creditmesh.errors import SchemaError
from creditmesh.graph import build, store


def _graph():
    return build(
        *frames(
            {"A": 0, "B": 1, "C": 2},
            [
                ("A", "device", "d"),
                ("B", "device", "d"),
                ("C", "ip", "i"),
                ("B", "ip", "i"),
                ("C", "kind?", "x"),
            ],
        )
    )


def test_save_and_load_give_back_the_same_graph(tmp_path):
    graph = _graph()
    store.save_graph(graph, tmp_path / "g")
    again = store.load_graph(tmp_path / "g")
    assert (again.links != graph.links).nnz == 0 and (again.incidence != graph.incidence).nnz == 0
    assert again.borrower_ids.equals(graph.borrower_ids)
    assert again.identifier_values.equals(graph.identifier_values)
    assert np.array_equal(again.hub, graph.hub) and np.array_equal(
        again.registered_at_us, graph.registered_at_us
    )
    assert again.config == graph.config and again.report == graph.report
    assert not list(tmp_path.glob(".g.*"))  # no staging folder left behind


def test_a_failed_save_leaves_the_previous_graph_in_place(tmp_path, monkeypatch):
    graph = _graph()
    store.save_graph(graph, tmp_path / "g")
    before = {p.name: p.read_bytes() for p in (tmp_path / "g").iterdir()}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store.np, "savez", broken)
    with pytest.raises(OSError):
        store.save_graph(graph, tmp_path / "g")
    assert {p.name: p.read_bytes() for p in (tmp_path / "g").iterdir()} == before
    assert not list(tmp_path.glob(".g.*"))


def test_a_changed_file_is_refused_by_its_hash(tmp_path):
    store.save_graph(_graph(), tmp_path / "g")
    with (tmp_path / "g" / "arrays.npz").open("ab") as handle:
        handle.write(b"x")
    with pytest.raises(SchemaError, match="content hash"):
        store.load_graph(tmp_path / "g")


def test_a_folder_without_manifest_is_not_a_graph(tmp_path):
    with pytest.raises(SchemaError, match="manifest"):
        store.load_graph(tmp_path)
