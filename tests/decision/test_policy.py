"""Policy files: validated with the field path named, content-hashed whatever the layout."""

from __future__ import annotations

import json

import pytest
import yaml

from creditmesh.decision import PolicyError, default_policy_path, load_policy, policy_from_dict


def _data():
    return yaml.safe_load(default_policy_path().read_text())


def test_the_version_is_the_hash_of_the_content_not_of_the_layout(tmp_path):
    data = _data()
    as_json = tmp_path / "p.json"
    as_json.write_text(json.dumps(data, indent=4))
    assert load_policy(as_json).version == load_policy(default_policy_path()).version
    data["credit_line"]["max_pd"] = 0.11
    assert policy_from_dict(data).version != load_policy(as_json).version


@pytest.mark.parametrize(
    "change, path",
    [
        (lambda d: d["credit_line"].update(max_pd=1.5), "credit_line.max_pd"),
        (lambda d: d["credit_line"]["knockouts"][2].update(when="age <"), "credit_line.knockouts[2].when"),
        (lambda d: d["credit_line"]["knockouts"][0].update(name="Bad Name"), "credit_line.knockouts[0].name"),
        (lambda d: d["credit_line"]["grades"][1].update(line_min_minor=10**9), "credit_line.grades[1]"),
        (lambda d: d["drawdown"].update(surprise=1), "drawdown.surprise"),
        (
            lambda d: d["line_adjustment"].update(increase_when="__import__('os')"),
            "line_adjustment.increase_when",
        ),
        (lambda d: d.pop("credit_line"), "credit_line"),
    ],
)
def test_a_bad_policy_names_the_field_at_fault(change, path):
    data = _data()
    change(data)
    with pytest.raises(PolicyError) as error:
        policy_from_dict(data)
    assert error.value.field == path


def test_an_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("name: [unclosed")
    with pytest.raises(PolicyError, match="does not parse"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
