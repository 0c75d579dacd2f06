from pathlib import Path

import pytest
import yaml

from creditmesh.collections import StrategyError, default_strategy_path, load_strategy, strategy_from_dict


def _document() -> dict:
    return yaml.safe_load(default_strategy_path().read_text())


def test_shipped_champion_strategy_loads_and_has_a_stable_version(champion):
    again = strategy_from_dict(_document())
    assert champion.version == again.version and len(champion.version) == 64
    assert champion.channels[0] == "reminder" and champion.capacity[champion.channels.index("call")] == 4800


def test_the_version_follows_the_content_not_the_layout(tmp_path: Path, champion):
    import json

    (tmp_path / "s.json").write_text(json.dumps(_document(), indent=4))
    assert load_strategy(tmp_path / "s.json").version == champion.version
    changed = _document()
    changed["actions"]["call"]["cost_minor"] = 301
    assert strategy_from_dict(changed).version != champion.version


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda d: d["segments"][1].update(buckets=["dpd_1_31"]), "segments[1].buckets", "unknown bucket"),
        (
            lambda d: d["segments"][2].update(actions=["sms", "pigeon"]),
            "segments[2].actions",
            "unknown action",
        ),
        (
            lambda d: d["actions"]["call"].update(cost_minor=-1),
            "actions.call.cost_minor",
            "greater than or equal",
        ),
        (
            lambda d: d["contact_rules"].update(max_contacts_per_day=11),
            "contact_rules.max_contacts_per_day",
            "10",
        ),
        (
            lambda d: d["contact_rules"]["quiet_hours"].update(start=24),
            "contact_rules.quiet_hours.start",
            "23",
        ),
        (
            lambda d: d["capacity"].update(call={"agents": 3}),
            "capacity.call",
            "per_day, or agents and per_agent",
        ),
        (lambda d: d["actions"].pop("legal"), "strategy", "does not price"),
        (lambda d: d.update(surprise=1), "surprise", "Extra inputs"),
    ],
)
def test_an_invalid_strategy_is_refused_naming_field_and_reason(change, field, reason):
    document = _document()
    change(document)
    with pytest.raises(StrategyError) as caught:
        strategy_from_dict(document)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_an_unreadable_file_is_refused_with_its_path(tmp_path: Path):
    (tmp_path / "bad.yaml").write_text("name: [unclosed")
    with pytest.raises(StrategyError, match="does not parse"):
        load_strategy(tmp_path / "bad.yaml")
    with pytest.raises(StrategyError, match="cannot read"):
        load_strategy(tmp_path / "missing.yaml")


def test_segments_match_in_file_order_by_bucket_balance_and_score(champion):
    import numpy as np

    bucket = np.array(["pre_due", "dpd_1_30", "dpd_1_30", "dpd_31_60", "dpd_31_60", "charged_off", "current"])
    balance = np.array([1, 1, 1, 100_000, 900_000, 1, 1])
    score = np.array([0.5, 0.9, 0.3, 0.5, 0.5, 0.1, 0.5])
    names = [s.name for s in champion.document.segments] + [None]
    assert [names[k] for k in champion.segment_of(bucket, balance, score)] == [
        "due_soon",
        "early_self_cure",
        "early",
        "middle_small",
        "middle_large",
        "recovery",
        None,
    ]


def test_challengers_split_loans_by_hash_the_same_way_every_time():
    from creditmesh.collections.strategy import assign_strategy_arms

    ids = [f"L{k}" for k in range(2_000)]
    arms = assign_strategy_arms(ids, [("gentle", 0.25)], salt="s")
    assert (arms == assign_strategy_arms(ids[::-1], [("gentle", 0.25)], salt="s")[::-1]).all()
    assert 0.2 < (arms == "gentle").mean() < 0.3
