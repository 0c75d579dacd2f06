"""The rule language: parsed once, the same answer on a table and on one application, SQL's missing-value logic."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from creditmesh.decision.rules import DecisionTable, RuleError, compile_rule

NUMBERS = ("age", "income", "dpd")
TEXTS = ("region",)


def _atom() -> st.SearchStrategy[str]:
    number = st.sampled_from(["0", "1", "18", "30", "-2", "0.5", "2.25"])
    compare = st.builds(
        lambda f, op, n: f"{f} {op} {n}",
        st.sampled_from(NUMBERS),
        st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
        number,
    )
    arith = st.builds(
        lambda a, op, b, c: f"{a} {op} {b} > {c}",
        st.sampled_from(NUMBERS),
        st.sampled_from("+-*/"),
        st.sampled_from(NUMBERS),
        number,
    )
    within = st.builds(
        lambda f, neg, opts: f"{f} {'not in' if neg else 'in'} {opts}",
        st.sampled_from(TEXTS),
        st.booleans(),
        st.sampled_from(["['X']", "['X', 'Y']", "('Z', 'Y')"]),
    )
    text_eq = st.builds(
        lambda op, v: f"region {op} '{v}'", st.sampled_from(["==", "!="]), st.sampled_from("XYZ")
    )
    missing = st.builds(
        lambda fn, f: f"{fn}({f})", st.sampled_from(["missing", "present"]), st.sampled_from(NUMBERS + TEXTS)
    )
    return st.one_of(compare, arith, within, text_eq, missing, st.just("flag"), st.just("1 < age < 40"))


conditions = st.recursive(
    _atom(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) or ({b})", inner, inner),
        st.builds(lambda a: f"not ({a})", inner),
    ),
    max_leaves=6,
)

rows = st.fixed_dictionaries(
    {
        "age": st.one_of(st.none(), st.just(float("nan")), st.integers(-5, 80)),
        "income": st.one_of(st.none(), st.floats(-10, 1e6), st.just(float("nan")), st.integers(0, 10**6)),
        "dpd": st.one_of(st.none(), st.sampled_from([0, 1, 30, 31, 90])),
        "region": st.one_of(st.none(), st.sampled_from(["X", "Y", "Z", "W"])),
        "flag": st.one_of(st.none(), st.booleans()),
    }
)


def _frame(records: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(records)
    frame["age"] = pd.array(
        [None if v is None or (isinstance(v, float) and math.isnan(v)) else v for v in frame["age"]],
        dtype="Int64",
    )
    frame["flag"] = pd.array(list(frame["flag"]), dtype="boolean")
    frame["region"] = frame["region"].astype(object)
    return frame


@settings(max_examples=300, deadline=None)
@given(text=conditions, records=st.lists(rows, min_size=1, max_size=20))
def test_a_rule_gives_the_same_answer_on_a_table_and_on_each_row(text, records):
    condition = compile_rule(text)
    frame = _frame(records)
    table = condition.mask(frame)
    one_by_one = [condition.holds(row) for row in frame.to_dict("records")]
    assert table.tolist() == one_by_one


@pytest.mark.parametrize(
    "text",
    [
        "age < 18",
        "age >= 18",
        "not (age < 18)",
        "age != 3",
        "region in ['X']",
        "region not in ['X']",
        "age + 1 > 0",
    ],
)
def test_a_comparison_with_a_missing_value_does_not_hold_either_way(text):
    condition = compile_rule(text)
    frame = pd.DataFrame({"age": pd.array([None], dtype="Int64"), "region": [None]})
    assert not condition.holds({"age": None, "region": None}) and not condition.mask(frame)[0]


def test_kleene_logic_lets_a_known_part_decide():
    assert compile_rule("age < 18 or income > 10").holds({"age": None, "income": 11})
    assert not compile_rule("age < 18 and income > 10").holds({"age": None, "income": 11})
    assert compile_rule("not (age < 18 and income > 10)").holds({"age": None, "income": 5})
    assert compile_rule("missing(age) or age < 18").holds({})


def test_division_by_zero_is_missing():
    assert not compile_rule("income / dpd > 1").holds({"income": 5, "dpd": 0})
    assert compile_rule("missing(income / dpd)").holds({"income": 5, "dpd": 0})


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("__import__('os').system('true')", "only missing"),
        ("age.real > 1", "not allowed"),
        ("age < 18 if True else 1", "not a condition"),
        ("lambda: 1", "not a condition"),
        ("age ** 2 > 1", "not allowed"),
        ("region in names", "non-empty list"),
        ("age <", "does not parse"),
        ("", "non-empty"),
    ],
)
def test_anything_outside_the_language_is_refused_with_the_rule_named(text, fragment):
    with pytest.raises(RuleError, match=fragment) as error:
        compile_rule(text, where="credit_line.knockouts[0].when")
    assert error.value.field == "credit_line.knockouts[0].when"


def test_text_where_a_number_belongs_is_an_error_naming_the_input_on_both_paths():
    for text in ("region < 3", "3 > region", "region + 1 > 3"):
        condition = compile_rule(text, where="credit_line.knockouts[1].when")
        with pytest.raises(RuleError) as one:
            condition.holds({"region": "X"})
        with pytest.raises(RuleError) as table:
            condition.mask(pd.DataFrame({"region": ["X"]}))
        assert one.value.field == table.value.field == "region"
        assert "credit_line.knockouts[1].when" in one.value.reason


def test_a_first_hit_table_picks_the_first_matching_row_on_both_paths():
    table = DecisionTable.build(
        [
            ("age < 18", {"outcome": "decline", "reason": "underage"}),
            ("region in ['X', 'Y']", {"outcome": "review", "reason": "region"}),
            ("income >= 1000", {"outcome": "approve", "reason": "ok"}),
        ],
        default={"outcome": "decline", "reason": "low_income"},
    )
    frame = pd.DataFrame(
        {
            "age": [17, 30, 30, 30, None],
            "region": ["X", "X", "Z", "Z", "Z"],
            "income": [5000, 5000, 5000, 10, 5000],
        }
    )
    decided = table.decide(frame)
    assert decided["reason"].tolist() == ["underage", "region", "ok", "low_income", "ok"]
    assert [table.decide_one(r)["reason"] for r in frame.to_dict("records")] == decided["reason"].tolist()
    assert table.hits(frame).tolist() == [0, 1, 2, -1, 2]
