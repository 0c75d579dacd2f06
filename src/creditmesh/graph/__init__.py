"""Relationship graph: borrowers linked through shared identifiers; rings, black and grey lists, graph features.

The graph is scipy.sparse over integer borrower indices (see :mod:`creditmesh.graph.build`);
it is saved as npz + Parquet with a version and a content hash (:mod:`creditmesh.graph.store`).
"""

from creditmesh.graph.build import (
    BadInputReport,
    GraphConfig,
    RelationshipGraph,
    build,
    build_graph,
    encode_identities,
)

__all__ = ["BadInputReport", "GraphConfig", "RelationshipGraph", "build", "build_graph", "encode_identities"]
