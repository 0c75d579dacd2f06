"""LightGBM boosters flattened to numpy arrays and walked by compiled code: one application in microseconds.

LightGBM's ``Booster.predict`` spends tens of microseconds of Python and C-API set-up on every
call before it walks a tree, and its TreeSHAP (``pred_contrib``) recurses through every node of
every tree with ``O(depth²)`` work at each leaf. A GBM that serves three boosters paid both three
times for one PD with reasons. :class:`Forest` reads each booster's own text model (the one the
artifact saves), lays every tree's nodes end to end in arrays, and evaluates them with numba:

* :meth:`Forest.raw` is LightGBM's ``predict(raw_score=True)``: the same decisions
  (``NumericalDecision`` and ``CategoricalDecision`` in ``include/LightGBM/tree.h``: missing
  types, default directions, category bitsets, values within ``kZeroThreshold`` of zero read as
  zero) and the leaf values added tree after tree from 0.0, so each booster's sum is
  bit-identical to LightGBM's.
* :meth:`Forest.contributions` gives the same numbers as LightGBM's ``predict(pred_contrib=True)``
  (path-dependent TreeSHAP over the trees' data counts; within 1e-12 of them, tested) by another
  route. For a leaf ``l`` with value ``v`` whose path splits on the distinct features ``U``,
  feature ``j`` carries the share ``z_j`` of the node's training rows that took the path's side
  at its splits (a product over its splits) and is *hot* when the application takes that side at
  every one of them. The leaf's Shapley values are then ``v·(1 − z_i)·Π_cold z·Σ_m c(m)·[tᵐ]
  Π_{hot j≠i}(t + z_j)`` for a hot ``i`` and ``−v·Π_cold z·Σ_m c(m)·[tᵐ]Π_hot(t + z_j)`` for a
  cold one, with ``c(m) = m!(|U|−m−1)!/|U|!``: one polynomial per leaf, built from the tree's
  node decisions, instead of a recursion over the tree. The expected value of each tree
  (``Tree::ExpectedValue``) goes in the last column, as LightGBM puts it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

#: LightGBM's ``kZeroThreshold`` (``1e-35f``): a value this close to zero reads as zero.
ZERO_THRESHOLD = float(np.float32(1e-35))
_CATEGORICAL, _DEFAULT_LEFT = 1, 2
_MISSING_ZERO, _MISSING_NAN = 1, 2
#: A numerical node's rules for the fast kernel: NaN goes left; a zero takes the default side; which is left.
_NAN_LEFT, _ZERO_DEFAULT, _ZERO_LEFT = 1, 2, 4


@dataclass(frozen=True)
class Forest:
    """Every tree of one or more boosters, flattened.

    Internal nodes and leaves are numbered across all trees; a child ``c >= 0`` is an internal
    node, ``c < 0`` the leaf ``~c``. Tree ``t`` owns the nodes ``tree_node[t]:tree_node[t + 1]``
    and the leaves ``tree_leaf[t]:tree_leaf[t + 1]``; booster ``b`` owns the trees
    ``booster_tree[b]:booster_tree[b + 1]``. For TreeSHAP, leaf ``l``'s path is
    ``path_node/path_left/path_slot[leaf_path[l]:leaf_path[l + 1]]`` (each split, the side the
    path takes, and which of the leaf's distinct features it splits on) and its distinct features
    and their shares of rows are ``leaf_feature/leaf_zero[leaf_slot[l]:leaf_slot[l + 1]]``.
    """

    n_features: int
    split_feature: np.ndarray  # int32, per node
    threshold: np.ndarray  # float64: the split value, or where the node's category bitset starts
    decision_type: np.ndarray  # int8: LightGBM's bits (categorical 1, default left 2, missing type << 2)
    cat_words: np.ndarray  # int32, per node: 32-bit words of its category bitset (0 if numerical)
    left: np.ndarray  # int32
    right: np.ndarray  # int32
    leaf_value: np.ndarray  # float64
    cat_bits: np.ndarray  # uint32: every category bitset, end to end
    tree_node: np.ndarray  # int32, trees + 1
    tree_leaf: np.ndarray  # int32, trees + 1
    tree_expected: np.ndarray  # float64: LightGBM's ``Tree::ExpectedValue``
    booster_tree: np.ndarray  # int32, boosters + 1
    leaf_path: np.ndarray  # int32, leaves + 1
    path_node: np.ndarray  # int32
    path_left: np.ndarray  # bool
    path_slot: np.ndarray  # int32
    leaf_slot: np.ndarray  # int32, leaves + 1
    leaf_feature: np.ndarray  # int32
    leaf_zero: np.ndarray  # float64
    quadrature: np.ndarray  # float64 (d + 1, ⌈d/2⌉, 2): Gauss-Legendre points and weights on [0, 1]
    shap: _ShapPlan | None = None  # the leaves grouped for the fast kernel (None: a tree has over 64 nodes)

    @property
    def n_boosters(self) -> int:
        return len(self.booster_tree) - 1

    @property
    def n_trees(self) -> int:
        return len(self.tree_node) - 1

    @classmethod
    def from_boosters(cls, boosters: Sequence) -> Forest:
        """The forest of ``boosters`` (``lightgbm.Booster``), read from their text models."""
        return cls.from_model_strings([b.model_to_string() for b in boosters])

    @classmethod
    def from_model_strings(cls, texts: Sequence[str]) -> Forest:
        builder = _Builder()
        n_features = None
        for text in texts:
            header, trees = _parse(text)
            if int(header.get("num_tree_per_iteration", "1")) != 1:
                raise ValueError("only single-output (binary or regression) boosters can be flattened")
            width = int(header["max_feature_idx"]) + 1
            if n_features is not None and width != n_features:
                raise ValueError(f"boosters read different feature counts ({n_features} and {width})")
            n_features = width
            builder.booster_tree.append(len(builder.tree_node) - 1)
            for tree in trees:
                builder.add_tree(tree)
        if n_features is None:
            raise ValueError("no booster to flatten")
        return builder.build(n_features)

    def _nodes(self) -> tuple:
        """The node arrays both kernels read, as one tuple (numba takes it as one argument)."""
        return (
            self.split_feature,
            self.threshold,
            self.decision_type,
            self.cat_words,
            self.cat_bits,
            self.left,
            self.right,
            self.leaf_value,
        )

    def raw(self, data: np.ndarray) -> np.ndarray:
        """Per row and booster, the booster's raw score (LightGBM's ``predict(raw_score=True)``)."""
        return _raw(
            _as_rows(data, self.n_features), self._nodes(), self.tree_node, self.tree_leaf, self.booster_tree
        )

    def contributions(self, data: np.ndarray) -> np.ndarray:
        """Per row and booster, each feature's TreeSHAP contribution and the expected value last
        (LightGBM's ``predict(pred_contrib=True)``): shape ``(rows, boosters, features + 1)``."""
        data = _as_rows(data, self.n_features)
        if self.shap is None:
            return self._general_contributions(data)
        return self._grouped(data, with_raw=False)[1]

    def explain(self, data: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`raw` and :meth:`contributions` at once (the raw scores bit for bit, as :meth:`raw` gives
        them): the fast kernel reads the row's leaves off the decisions the contributions need anyway."""
        data = _as_rows(data, self.n_features)
        if self.shap is None:
            return self.raw(data), self._general_contributions(data)
        landed, contributions = self._grouped(data, with_raw=True)
        return _add_in_order(landed, self.booster_tree), contributions

    def _grouped(self, data: np.ndarray, with_raw: bool) -> tuple[np.ndarray, np.ndarray]:
        plan = self.shap
        return _contrib_grouped(
            data,
            self._nodes(),
            self.tree_node,
            self.booster_tree,
            plan.node_read,
            plan.node_rule,
            plan.cat_node,
            plan.tree_constant,
            plan.group_unit,
            plan.unit_tree,
            plan.unit_want,
            plan.unit_mask,
            plan.unit_side,
            plan.unit_left,
            plan.unit_right,
            plan.slot_need,
            plan.slot_zero,
            plan.slot_out,
            plan.expected,
            self.quadrature,
            with_raw,
        )

    def _general_contributions(self, data: np.ndarray) -> np.ndarray:
        return _contrib(
            data,
            self._nodes(),
            self.tree_node,
            self.tree_leaf,
            self.tree_expected,
            self.booster_tree,
            self.leaf_path,
            self.path_node,
            self.path_left,
            self.path_slot,
            self.leaf_slot,
            self.leaf_feature,
            self.leaf_zero,
            self.quadrature,
        )


def _as_rows(data: np.ndarray, n_features: int) -> np.ndarray:
    data = np.ascontiguousarray(data, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != n_features:
        raise ValueError(f"expected rows of {n_features} features, got shape {data.shape}")
    return data


# --- reading LightGBM's text model -------------------------------------------------------------------


def _parse(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """A LightGBM text model: its header's keys and, per tree, its keys (``split_feature=...``)."""
    blocks = text.split("end of trees", 1)[0].split("\nTree=")
    return _keys(blocks[0]), [_keys(block) for block in blocks[1:]]


def _keys(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _numbers(tree: dict[str, str], key: str, dtype) -> np.ndarray:
    value = tree.get(key, "")
    return np.array(value.split(), dtype=dtype) if value else np.zeros(0, dtype=dtype)


_NODE_FIELDS = {
    "split_feature": np.int32,
    "threshold": np.float64,
    "decision_type": np.int8,
    "cat_words": np.int32,
    "left": np.int32,
    "right": np.int32,
    "leaf_value": np.float64,
    "cat_bits": np.uint32,
    "path_node": np.int32,
    "path_left": np.bool_,
    "path_slot": np.int32,
    "leaf_feature": np.int32,
    "leaf_zero": np.float64,
}


class _Builder:
    """Lays trees end to end, renumbering nodes, leaves and category bitsets, and maps each leaf's path."""

    def __init__(self) -> None:
        self.parts: dict[str, list[np.ndarray]] = {k: [] for k in _NODE_FIELDS}
        self.leaf_parts: dict[str, list] = {
            k: [] for k in ("path_node", "path_left", "path_slot", "leaf_feature", "leaf_zero")
        }
        self.tree_node, self.tree_leaf, self.booster_tree = [0], [0], []
        self.expected: list[float] = []
        self.leaf_path, self.leaf_slot = [0], [0]
        self.words = 0
        self.units = _Units()
        self.widest = 0

    def add_tree(self, tree: dict[str, str]) -> None:
        if tree.get("is_linear", "0") != "0":
            raise ValueError("linear trees cannot be flattened")
        leaves = int(tree["num_leaves"])
        nodes, first_leaf = self.tree_node[-1], self.tree_leaf[-1]
        leaf_value = _numbers(tree, "leaf_value", np.float64)[:leaves]
        feature = _numbers(tree, "split_feature", np.int32)
        threshold = _numbers(tree, "threshold", np.float64)
        decision = _numbers(tree, "decision_type", np.int8)
        left = _numbers(tree, "left_child", np.int32)
        right = _numbers(tree, "right_child", np.int32)
        words = np.zeros(leaves - 1, dtype=np.int32)
        if int(tree.get("num_cat", "0")) > 0:
            bounds = _numbers(tree, "cat_boundaries", np.int64)
            bits = _numbers(tree, "cat_threshold", np.uint32)
            for node in np.flatnonzero(decision & _CATEGORICAL):
                k = int(threshold[node])
                words[node] = bounds[k + 1] - bounds[k]
                threshold[node] = self.words + bounds[k]
            self.parts["cat_bits"].append(bits)
            self.words += len(bits)

        def renumber(children: np.ndarray) -> np.ndarray:
            return np.where(children >= 0, children + nodes, ~(~children + first_leaf)).astype(np.int32)

        for key, values in (
            ("split_feature", feature),
            ("threshold", threshold),
            ("decision_type", decision),
            ("cat_words", words),
            ("left", renumber(left)),
            ("right", renumber(right)),
            ("leaf_value", leaf_value),
        ):
            self.parts[key].append(values)
        if leaves > 1:
            leaf_count = _numbers(tree, "leaf_count", np.float64)
            internal_count = _numbers(tree, "internal_count", np.float64)
            self.expected.append(_expected_value(leaf_value, leaf_count, internal_count))
            found = self._paths(left, right, feature, leaf_count, internal_count, nodes)
            if leaves - 1 <= 64:
                self.units.add_tree(
                    len(self.tree_node) - 1,
                    len(self.booster_tree) - 1,
                    found,
                    left,
                    right,
                    feature,
                    leaf_value,
                )
        else:
            self.expected.append(float(leaf_value[0]))
            self._add_leaf([], [])
        self.widest = max(self.widest, leaves - 1)
        self.tree_node.append(nodes + leaves - 1)
        self.tree_leaf.append(first_leaf + leaves)

    def _paths(self, left, right, feature, leaf_count, internal_count, nodes: int) -> dict[int, list]:
        """Each leaf's path (in leaf order): its splits and its distinct features' shares of rows.

        Returns each leaf's path from the root: (node, whether it goes left, its share of the node's rows).
        """
        found: dict[int, tuple[list, list]] = {}
        stack: list[tuple[int, list[tuple[int, bool, int]]]] = [(0, [])]
        while stack:
            node, path = stack.pop()
            if node < 0:
                found[~node] = path
                continue
            for child, went_left in ((int(left[node]), True), (int(right[node]), False)):
                rows = leaf_count[~child] if child < 0 else internal_count[child]
                stack.append((child, [*path, (node, went_left, rows / internal_count[node])]))
        for leaf in range(len(found)):
            slots: dict[int, int] = {}
            zero: list[float] = []
            steps = []
            for node, went_left, share in found[leaf]:
                f = int(feature[node])
                if f not in slots:
                    slots[f] = len(zero)
                    zero.append(1.0)
                zero[slots[f]] *= share
                steps.append((nodes + node, went_left, slots[f]))
            self._add_leaf(steps, list(zip(slots, zero)))
        return found

    def _add_leaf(self, steps: list[tuple[int, bool, int]], features: list[tuple[int, float]]) -> None:
        # Python lists, made arrays once in build (an array per leaf costs more than the leaf's work)
        self.leaf_parts["path_node"] += [s[0] for s in steps]
        self.leaf_parts["path_left"] += [s[1] for s in steps]
        self.leaf_parts["path_slot"] += [s[2] for s in steps]
        self.leaf_parts["leaf_feature"] += [f for f, _ in features]
        self.leaf_parts["leaf_zero"] += [z for _, z in features]
        self.leaf_path.append(self.leaf_path[-1] + len(steps))
        self.leaf_slot.append(self.leaf_slot[-1] + len(features))

    def build(self, n_features: int) -> Forest:
        arrays = {
            k: np.ascontiguousarray(np.concatenate(v) if v else np.zeros(0), dtype=_NODE_FIELDS[k])
            for k, v in self.parts.items()
        }
        for k, values in self.leaf_parts.items():
            arrays[k] = np.asarray(values, dtype=_NODE_FIELDS[k])
        slots = np.diff(np.asarray(self.leaf_slot))
        deepest = int(slots.max()) if len(slots) else 0
        tree_node = np.asarray(self.tree_node, dtype=np.int32)
        booster_tree = np.asarray([*self.booster_tree, len(self.tree_node) - 1], dtype=np.int32)
        shap = None
        if self.widest <= 64:
            shap = _ShapPlan.build(
                n_features,
                arrays["split_feature"],
                arrays["decision_type"],
                np.asarray(self.tree_leaf, dtype=np.int32),
                booster_tree,
                np.asarray(self.expected, dtype=np.float64),
                arrays["leaf_value"],
                self.units,
            )
        return Forest(
            n_features=n_features,
            tree_node=tree_node,
            tree_leaf=np.asarray(self.tree_leaf, dtype=np.int32),
            tree_expected=np.asarray(self.expected, dtype=np.float64),
            booster_tree=booster_tree,
            leaf_path=np.asarray(self.leaf_path, dtype=np.int32),
            leaf_slot=np.asarray(self.leaf_slot, dtype=np.int32),
            quadrature=_quadrature(deepest),
            shap=shap,
            **arrays,
        )


class _Units:
    """The fast kernel's units of work, a tree at a time: each leaf, or each pair of sibling leaves as one.

    A leaf's TreeSHAP values are the Shapley values of the product game ``f(S) = Π_{k∈S} o_k ·
    Π_{k∉S} z_k`` over its distinct features (``o_k`` is 1 when the row takes the path's side at
    each of the feature's splits, else 0; ``z_k`` the share of rows that does), times its value ``v``.
    Scaling one feature's ``o`` and ``z`` by ``v`` scales the game by ``v``, so the value goes into the
    unit's first feature. Two leaves ``L``, ``R`` under one node ``p`` share their path but for ``p``'s
    split on ``j``: their games add up to one product game over the same features in which ``j``
    has ``o = o'·v_L`` or ``o'·v_R`` (the side the row takes at ``p``; ``o'`` its hot-ness at the earlier
    splits on ``j``) and ``z = Z·(v_L·a_L + v_R·a_R)`` (``Z`` the earlier shares, ``a`` the children's).
    The Shapley formula holds for any product game, so one unit stands for both leaves.
    """

    def __init__(self) -> None:
        self.tree: list[int] = []
        self.booster: list[int] = []
        self.want: list[int] = []  # bits of the unit's path that go left
        self.mask: list[int] = []  # bits of the unit's path
        self.side: list[int] = []  # the bit of p (0 for one leaf)
        self.left: list[float] = []  # the first feature's o when hot, going left at p (or any way: one leaf)
        self.right: list[float] = []
        self.features: list[list[int]] = []
        self.zero: list[list[float]] = []
        self.need: list[list[int]] = []  # per feature, the bits of the path's splits on it

    def add_tree(self, tree, booster, found, left, right, feature, leaf_value) -> None:
        paired = set()
        for p in range(len(left)):
            if left[p] < 0 and right[p] < 0:
                leaf_l, leaf_r = int(~left[p]), int(~right[p])
                paired |= {leaf_l, leaf_r}
                v_l, v_r = float(leaf_value[leaf_l]), float(leaf_value[leaf_r])
                a_l, a_r = found[leaf_l][-1][2], found[leaf_r][-1][2]
                self._add(
                    tree,
                    booster,
                    found[leaf_l][:-1],
                    int(feature[p]),
                    1 << p,
                    v_l,
                    v_r,
                    v_l * a_l + v_r * a_r,
                    feature,
                )
        for leaf, path in found.items():
            if leaf not in paired:
                v = float(leaf_value[leaf])
                self._add(tree, booster, path, int(feature[path[0][0]]), 0, v, v, v, feature)

    def _add(self, tree, booster, path, first, side, o_left, o_right, scale, feature) -> None:
        """A unit whose path is ``path`` and whose first feature ``first`` carries the leaves' values."""
        zero: dict[int, float] = {first: 1.0}
        need: dict[int, int] = {first: 0}
        want = mask = 0
        for node, went_left, share in path:
            f, bit = int(feature[node]), 1 << node
            zero[f] = zero.get(f, 1.0) * share
            need[f] = need.get(f, 0) | bit
            mask |= bit
            want |= bit if went_left else 0
        zero[first] *= scale
        self.tree.append(tree)
        self.booster.append(booster)
        self.want.append(want)
        self.mask.append(mask)
        self.side.append(side)
        self.left.append(o_left)
        self.right.append(o_right)
        self.features.append(list(zero))
        self.zero.append(list(zero.values()))
        self.need.append(list(need.values()))


@dataclass(frozen=True)
class _ShapPlan:
    """The forest laid out for :func:`_contrib_grouped`, whose inner loops run over many units at once.

    *Nodes.* A row's decisions at a tree's internal nodes are the bits of one 64-bit word (so trees of
    at most 64 internal nodes; a larger tree leaves the forest to the general kernel). A numerical node
    reads ``x`` or, when its missing type is not NaN, ``x`` with NaN as 0 (``node_read`` indexes the
    two end to end) and its ``node_rule`` bits say what a NaN or a zero does; category nodes
    (``cat_node``) are decided one by one as :func:`_goes_left` does.

    *Units* (:class:`_Units`) are grouped by their count ``d`` of distinct features: group ``d`` holds
    the units ``group_unit[d]:group_unit[d + 1]`` (a tree of one leaf only adds to the expected value and
    has none). Of ``n`` units in a group starting at slot ``base``, the ``k``-th feature of the ``i``-th
    unit is the slot ``base + k·n + i`` (feature by feature, so the kernel's inner loops run along the
    units). Unit ``i`` holds the row when its tree's word agrees with ``unit_want[i]`` under
    ``unit_mask[i]``; its feature in slot ``s`` is *hot* when they agree under ``slot_need[s]``.
    """

    node_read: np.ndarray  # int32, per node: the feature, plus the row width if NaN reads as zero
    node_rule: np.ndarray  # uint8, per node: _NAN_LEFT, _ZERO_DEFAULT, _ZERO_LEFT bits
    cat_node: np.ndarray  # int32: the category nodes
    tree_constant: np.ndarray  # float64, per tree: its value if it is one leaf (0.0 otherwise)
    group_unit: np.ndarray  # int64 (deepest + 2)
    unit_tree: np.ndarray  # int32, per grouped unit
    unit_want: np.ndarray  # uint64
    unit_mask: np.ndarray  # uint64
    unit_side: np.ndarray  # uint64
    unit_left: np.ndarray  # float64
    unit_right: np.ndarray  # float64
    slot_need: np.ndarray  # uint64, per slot
    slot_zero: np.ndarray  # float64
    slot_out: np.ndarray  # int64: booster × (features + 1) + feature, where the contribution goes
    expected: np.ndarray  # float64, per booster: its trees' expected values added in order

    @classmethod
    def build(
        cls,
        n_features: int,
        split_feature: np.ndarray,
        decision_type: np.ndarray,
        tree_leaf: np.ndarray,
        booster_tree: np.ndarray,
        tree_expected: np.ndarray,
        leaf_value: np.ndarray,
        units: _Units,
    ) -> _ShapPlan:
        d = np.array([len(f) for f in units.features], dtype=np.int64)
        tree = np.asarray(units.tree, dtype=np.int64)
        # by d; within a group, the first unit of every tree, then the second, ...: neighbours come from
        # different trees, so that adding their contributions up seldom waits on the same feature's sum
        by_tree = np.lexsort((np.arange(len(d)), d, tree))
        starts = np.r_[True, (np.diff(tree[by_tree]) != 0) | (np.diff(d[by_tree]) != 0)]
        first = np.maximum.accumulate(np.where(starts, np.arange(len(d)), 0))
        rank = np.empty(len(d), dtype=np.int64)
        rank[by_tree] = np.arange(len(d)) - first
        order = np.lexsort((tree, rank, d))
        deepest = int(d.max()) if len(d) else 0
        group_unit = np.searchsorted(d[order], np.arange(deepest + 2), side="left").astype(np.int64)
        offset = np.r_[0, np.cumsum(d)]
        flat_feature = np.array([f for fs in units.features for f in fs], dtype=np.int64)
        flat_zero = np.array([z for zs in units.zero for z in zs], dtype=np.float64)
        flat_need = np.array([n for ns in units.need for n in ns], dtype=np.uint64)
        slots = [np.zeros(0, dtype=np.int64)]
        for g in range(1, deepest + 1):
            members = order[group_unit[g] : group_unit[g + 1]]
            slots += [
                offset[members] + k for k in range(g)
            ]  # feature k of every unit of the group, then k + 1
        slot = np.concatenate(slots)
        slot_unit = np.searchsorted(offset, slot, side="right") - 1
        expected = np.zeros(len(booster_tree) - 1)
        for b in range(len(booster_tree) - 1):
            for t in range(booster_tree[b], booster_tree[b + 1]):  # in tree order, as the general kernel adds
                expected[b] += tree_expected[t]
        missing = (decision_type.astype(np.int64) >> 2) & 3
        default_left = (decision_type & _DEFAULT_LEFT) != 0
        rule = (
            np.where((missing == _MISSING_NAN) & default_left, _NAN_LEFT, 0)
            | np.where(missing == _MISSING_ZERO, _ZERO_DEFAULT, 0)
            | np.where((missing == _MISSING_ZERO) & default_left, _ZERO_LEFT, 0)
        )
        booster = np.asarray(units.booster, dtype=np.int64)
        return cls(
            node_read=(split_feature + np.where(missing == _MISSING_NAN, 0, n_features)).astype(np.int32),
            node_rule=rule.astype(np.uint8),
            cat_node=np.flatnonzero(decision_type & _CATEGORICAL).astype(np.int32),
            tree_constant=np.where(np.diff(tree_leaf) == 1, leaf_value[tree_leaf[:-1]], 0.0),
            group_unit=group_unit,
            unit_tree=tree[order].astype(np.int32),
            unit_want=np.asarray(units.want, dtype=np.uint64)[order],
            unit_mask=np.asarray(units.mask, dtype=np.uint64)[order],
            unit_side=np.asarray(units.side, dtype=np.uint64)[order],
            unit_left=np.asarray(units.left, dtype=np.float64)[order],
            unit_right=np.asarray(units.right, dtype=np.float64)[order],
            slot_need=np.ascontiguousarray(flat_need[slot]),
            slot_zero=np.ascontiguousarray(flat_zero[slot]),
            slot_out=np.ascontiguousarray(booster[slot_unit] * (n_features + 1) + flat_feature[slot]),
            expected=expected,
        )


def _expected_value(leaf_value: np.ndarray, leaf_count: np.ndarray, internal_count: np.ndarray) -> float:
    """``Tree::ExpectedValue``: the leaves' values weighted by their training rows, summed in leaf order."""
    total = float(internal_count[0])
    value = 0.0
    for v, c in zip(leaf_value.tolist(), leaf_count.tolist()):
        value += (c / total) * v
    return value


def _quadrature(deepest: int) -> np.ndarray:
    """Per count ``d`` of distinct features, ``⌈d/2⌉`` Gauss-Legendre points and weights on [0, 1].

    A leaf's Shapley weights are the Beta integrals ``m!(d − m − 1)!/d! = ∫₀¹ sᵐ(1 − s)^(d−m−1) ds``,
    so each feature's sum over coalitions is the integral of a polynomial of degree ``d − 1``,
    which ``⌈d/2⌉`` points integrate exactly.
    """
    out = np.zeros((deepest + 1, max((deepest + 1) // 2, 1), 2))
    for d in range(1, deepest + 1):
        points, weights = np.polynomial.legendre.leggauss((d + 1) // 2)
        out[d, : len(points), 0] = (points + 1) / 2
        out[d, : len(points), 1] = weights / 2
    return out


# --- compiled evaluation -------------------------------------------------------------------------------


@njit(cache=True, nogil=True, inline="always")
def _goes_left(fval, kind, threshold, words, cat_bits):
    """Whether a value goes to the node's left child (LightGBM's ``Tree::Decision``).

    ``kind`` is the node's decision type; for a category split ``threshold`` is where its bitset
    starts in ``cat_bits`` and ``words`` its length. (One ``return`` and scalars in and out: numba
    then compiles it into the callers' loops as tight as if it were written there.)
    """
    if kind & _CATEGORICAL:
        left = False
        # NaN, int(fval) < 0, and values past int32 (which C's int cast makes negative on x86) go right
        if not (np.isnan(fval) or fval <= -1.0 or fval >= 2147483648.0):
            code = np.int64(fval)
            word = code >> 5
            if word < words:
                left = ((np.int64(cat_bits[np.int64(threshold) + word]) >> (code & 31)) & 1) == 1
    else:
        missing = (kind >> 2) & 3
        if np.isnan(fval) and missing != _MISSING_NAN:
            fval = 0.0
        if (missing == _MISSING_ZERO and -ZERO_THRESHOLD <= fval <= ZERO_THRESHOLD) or (
            missing == _MISSING_NAN and np.isnan(fval)
        ):
            left = (kind & _DEFAULT_LEFT) != 0
        else:
            left = fval <= threshold
    return left


@njit(cache=True, nogil=True)
def _read_row(data, i, out):
    """Row ``i`` as LightGBM's predictor reads it: values within ``kZeroThreshold`` of zero become 0."""
    for j in range(data.shape[1]):
        v = data[i, j]
        out[j] = 0.0 if -ZERO_THRESHOLD <= v <= ZERO_THRESHOLD else v


@njit(cache=True, nogil=True)
def _raw(data, nodes, tree_node, tree_leaf, booster_tree):
    split_feature, threshold, decision_type, cat_words, cat_bits, left, right, leaf_value = nodes
    n_boosters = len(booster_tree) - 1
    out = np.zeros((data.shape[0], n_boosters))
    x = np.empty(data.shape[1])
    for i in range(data.shape[0]):
        _read_row(data, i, x)
        for b in range(n_boosters):
            total = 0.0
            for t in range(booster_tree[b], booster_tree[b + 1]):
                if tree_node[t + 1] == tree_node[t]:  # a tree of one leaf
                    total += leaf_value[tree_leaf[t]]
                    continue
                node = tree_node[t]
                while node >= 0:
                    if _goes_left(
                        x[split_feature[node]],
                        decision_type[node],
                        threshold[node],
                        cat_words[node],
                        cat_bits,
                    ):
                        node = left[node]
                    else:
                        node = right[node]
                total += leaf_value[~node]
            out[i, b] = total
    return out


@njit(cache=True, nogil=True)
def _contrib(
    data,
    nodes,
    tree_node,
    tree_leaf,
    tree_expected,
    booster_tree,
    leaf_path,
    path_node,
    path_left,
    path_slot,
    leaf_slot,
    leaf_feature,
    leaf_zero,
    quadrature,
):
    split_feature, threshold, decision_type, cat_words, cat_bits, left, right, leaf_value = nodes
    n_boosters = len(booster_tree) - 1
    width = data.shape[1]
    out = np.zeros((data.shape[0], n_boosters, width + 1))
    x = np.empty(width)
    most_nodes = 1
    for t in range(len(tree_node) - 1):
        most_nodes = max(most_nodes, tree_node[t + 1] - tree_node[t])
    goes_left = np.empty(most_nodes, np.bool_)
    deepest = quadrature.shape[0] - 1
    one = np.empty(deepest)  # per distinct feature of a leaf: 1.0 when hot, 0.0 when cold
    product = np.empty(quadrature.shape[1])
    for r in range(data.shape[0]):
        _read_row(data, r, x)
        for b in range(n_boosters):
            phi = out[r, b]
            for t in range(booster_tree[b], booster_tree[b + 1]):
                phi[width] += tree_expected[t]
                first = tree_node[t]
                for node in range(first, tree_node[t + 1]):
                    goes_left[node - first] = _goes_left(
                        x[split_feature[node]],
                        decision_type[node],
                        threshold[node],
                        cat_words[node],
                        cat_bits,
                    )
                for leaf in range(tree_leaf[t], tree_leaf[t + 1]):
                    start, d = leaf_slot[leaf], leaf_slot[leaf + 1] - leaf_slot[leaf]
                    if d == 0:
                        continue
                    for k in range(d):
                        one[k] = 1.0
                    for e in range(leaf_path[leaf], leaf_path[leaf + 1]):
                        one[path_slot[e]] *= goes_left[path_node[e] - first] == path_left[e]
                    points = (d + 1) // 2
                    for g in range(points):
                        s = quadrature[d, g, 0]
                        total = 1.0
                        for k in range(d):
                            z = leaf_zero[start + k]
                            total *= z + s * (one[k] - z)
                        product[g] = quadrature[d, g, 1] * total
                    value = leaf_value[leaf]
                    for k in range(d):
                        z = leaf_zero[start + k]
                        weight = 0.0
                        for g in range(points):
                            weight += product[g] / (z + quadrature[d, g, 0] * (one[k] - z))
                        phi[leaf_feature[start + k]] += value * (one[k] - z) * weight
    return out


@njit(cache=True, nogil=True)
def _add_in_order(landed, booster_tree):
    """Per row, each booster's leaf values added tree after tree from 0.0, as LightGBM adds them
    (apart from :func:`_contrib_grouped`, whose fast-math flags could reorder the sum)."""
    out = np.empty((landed.shape[0], len(booster_tree) - 1))
    for r in range(landed.shape[0]):
        for b in range(len(booster_tree) - 1):
            total = 0.0
            for t in range(booster_tree[b], booster_tree[b + 1]):
                total += landed[r, t]
            out[r, b] = total
    return out


#: Leaves a pass of :func:`_contrib_grouped` works on at once: its scratch arrays stay in the L1 cache.
_CHUNK = 256


@njit(cache=True, nogil=True, fastmath={"contract", "reassoc", "nsz", "arcp"})
def _contrib_grouped(
    data,
    nodes,
    tree_node,
    booster_tree,
    node_read,
    node_rule,
    cat_node,
    tree_constant,
    group_unit,
    unit_tree,
    unit_want,
    unit_mask,
    unit_side,
    unit_left,
    unit_right,
    slot_need,
    slot_zero,
    slot_out,
    expected,
    quadrature,
    with_raw,
):
    """Per row and tree, the value of the leaf the row lands in (every row's if ``with_raw``, else the last
    row's), and :func:`_contrib`'s Shapley values, many leaves of the same ``d`` at a time (:class:`_ShapPlan`).

    Each leaf's feature ``k`` gets ``v·(o_k − z_k)·Σ_g w_g·Π_{j≠k}(z_j + s_g·(o_j − z_j))`` (``o`` is
    1 when hot, 0 when cold), the integral :func:`_contrib` works out; the product that leaves
    feature ``k`` out is a prefix times a suffix, and every loop but the last runs along the leaves
    of a chunk, so that it is vectorised.
    """
    split_feature, threshold, decision_type, cat_words, cat_bits, _, _, _ = nodes
    width = data.shape[1]
    stride = width + 1
    n_trees = len(tree_node) - 1
    n_boosters = len(booster_tree) - 1
    n_nodes = len(threshold)
    deepest = len(group_unit) - 2
    out = np.zeros((data.shape[0], n_boosters * stride))
    landed = np.empty((data.shape[0] if with_raw else 1, n_trees))  # per row and tree: its leaf's value
    x = np.empty(width)
    xs = np.empty(2 * width)  # the row, then the row with NaN as 0
    nan = np.empty(width, np.uint8)
    zero = np.empty(width, np.uint8)
    left = np.empty(n_nodes, np.uint64)
    words = np.empty(n_trees, np.uint64)
    off = np.empty(_CHUNK, np.uint64)
    valued = np.empty(_CHUNK)  # per unit: the first feature's o when hot (its leaf's value, or the side's)
    diff = np.empty(max(deepest, 1) * _CHUNK)  # per slot of the chunk: o − z
    acc = np.empty(max(deepest, 1) * _CHUNK)
    suffix = np.empty((max(deepest, 1) + 1) * _CHUNK)
    prefix = np.empty(_CHUNK)
    for r in range(data.shape[0]):
        _read_row(data, r, x)
        for j in range(width):
            v = x[j]
            missing = np.isnan(v)
            nan[j] = missing
            zero[j] = missing or v == 0.0
            xs[j] = v
            xs[width + j] = 0.0 if missing else v
        for node in range(n_nodes):  # numerical decisions without a branch (category nodes are redone below)
            f = split_feature[node]
            rule = node_rule[node]
            at_default = zero[f] & ((rule >> 1) & 1)
            goes = np.uint8(xs[node_read[node]] <= threshold[node])
            goes = (goes & (1 - at_default)) | (at_default & ((rule >> 2) & 1)) | (nan[f] & (rule & 1))
            left[node] = np.uint64(goes)
        for node in cat_node:
            left[node] = np.uint64(
                _goes_left(
                    x[split_feature[node]], decision_type[node], threshold[node], cat_words[node], cat_bits
                )
            )
        for t in range(n_trees):
            word = np.uint64(0)
            first = tree_node[t]
            for node in range(first, tree_node[t + 1]):
                word |= left[node] << np.uint64(node - first)
            words[t] = word
        phi = out[r]
        lr = r if with_raw else 0
        landed[lr] = tree_constant
        base = 0
        for d in range(1, deepest + 1):
            lo, hi = group_unit[d], group_unit[d + 1]
            n = hi - lo
            for c0 in range(0, n, _CHUNK):
                m = min(_CHUNK, n - c0)
                first = lo + c0
                trees = unit_tree[first : first + m]
                want = unit_want[first : first + m]
                mask = unit_mask[first : first + m]
                side = unit_side[first : first + m]
                o_left = unit_left[first : first + m]
                o_right = unit_right[first : first + m]
                for i in range(m):
                    word = words[trees[i]]
                    off[i] = (word ^ want[i]) & mask[i]
                    valued[i] = o_left[i] if (word & side[i]) != 0 else o_right[i]
                for i in range(m):
                    if off[i] == 0:
                        landed[lr, trees[i]] = valued[i]
                for k in range(d):
                    need = slot_need[base + k * n + c0 : base + k * n + c0 + m]
                    z = slot_zero[base + k * n + c0 : base + k * n + c0 + m]
                    dk = diff[k * _CHUNK : k * _CHUNK + m]
                    ak = acc[k * _CHUNK : k * _CHUNK + m]
                    if k == 0:
                        for i in range(m):
                            dk[i] = (valued[i] if (off[i] & need[i]) == 0 else 0.0) - z[i]
                            ak[i] = 0.0
                    else:
                        for i in range(m):
                            dk[i] = (1.0 if (off[i] & need[i]) == 0 else 0.0) - z[i]
                            ak[i] = 0.0
                for g in range((d + 1) // 2):
                    point, weight = quadrature[d, g, 0], quadrature[d, g, 1]
                    sk = suffix[d * _CHUNK : d * _CHUNK + m]
                    for i in range(m):
                        sk[i] = weight
                    for k in range(d - 1, -1, -1):
                        z = slot_zero[base + k * n + c0 : base + k * n + c0 + m]
                        dk = diff[k * _CHUNK : k * _CHUNK + m]
                        above = suffix[(k + 1) * _CHUNK : (k + 1) * _CHUNK + m]
                        sk = suffix[k * _CHUNK : k * _CHUNK + m]
                        for i in range(m):
                            sk[i] = above[i] * (z[i] + point * dk[i])
                    for i in range(m):
                        prefix[i] = 1.0
                    for k in range(d):
                        z = slot_zero[base + k * n + c0 : base + k * n + c0 + m]
                        dk = diff[k * _CHUNK : k * _CHUNK + m]
                        ak = acc[k * _CHUNK : k * _CHUNK + m]
                        above = suffix[(k + 1) * _CHUNK : (k + 1) * _CHUNK + m]
                        for i in range(m):
                            ak[i] += prefix[i] * above[i]
                            prefix[i] *= z[i] + point * dk[i]
                for k in range(d):
                    where = slot_out[base + k * n + c0 : base + k * n + c0 + m]
                    dk = diff[k * _CHUNK : k * _CHUNK + m]
                    ak = acc[k * _CHUNK : k * _CHUNK + m]
                    for i in range(m):
                        phi[where[i]] += dk[i] * ak[i]
            base += d * n
        for b in range(n_boosters):
            phi[b * stride + width] = expected[b]
    return landed, out.reshape(data.shape[0], n_boosters, stride)
