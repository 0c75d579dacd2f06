import json

import numpy as np
import pytest
from _queues import random_queue, true_share

from creditmesh.collections import UpliftModel, load_uplift, save_uplift, score_queue
from creditmesh.errors import CreditmeshError


@pytest.fixture(scope="module")
def history():
    queue = random_queue(20_000, seed=3)
    rng = np.random.default_rng(4)
    action = rng.choice(
        np.array(["none", "sms", "app_push", "call", "field_visit"], dtype=object), len(queue)
    )
    paid = rng.random(len(queue)) < true_share(queue, action)
    return queue, action, np.where(paid, queue["at_stake_minor"].to_numpy(), 0)


def test_uplift_finds_where_a_call_changes_the_outcome(history):
    queue, action, recovered = history
    model = UpliftModel().fit(queue, action, recovered)
    fresh = random_queue(4_000, seed=9)
    share = model.share(fresh)
    dpd = fresh["dpd"].to_numpy()
    middle, early = (dpd > 30) & (dpd <= 90), (dpd > 0) & (dpd <= 30)
    call_uplift = share["call"] - share["none"]
    assert call_uplift[middle].mean() > 0.2 > 0.15 > call_uplift[early].mean()
    assert share["none"][early].mean() > 0.6  # who pays anyway is not credited to the call


def test_broken_promises_lower_the_expected_recovery(history):
    model = UpliftModel().fit(*history)
    fresh = random_queue(2_000, seed=10)
    kept = model.share(fresh.assign(broken_promises=0))["none"]
    broken = model.share(fresh.assign(broken_promises=3))["none"]
    assert (broken < kept).all()


def test_scored_queue_carries_recovery_with_and_without_contact(history):
    scored = score_queue(random_queue(500, seed=2), UpliftModel().fit(*history))
    assert (scored["expected_contact_minor"] >= scored["expected_no_contact_minor"]).all()
    assert (
        scored["uplift_minor"] == scored["expected_contact_minor"] - scored["expected_no_contact_minor"]
    ).all()
    assert scored["score"].between(0, 1).all()


def test_the_artifact_round_trips_and_refuses_a_changed_file(history, tmp_path):
    model = UpliftModel().fit(*history)
    path = save_uplift(model, tmp_path / "uplift.json")
    again = load_uplift(path)
    queue = random_queue(300, seed=1)
    assert all(np.array_equal(model.share(queue)[a], again.share(queue)[a]) for a in model.arms)
    assert again.content_hash_ == model.content_hash_
    document = json.loads(path.read_text())
    document["coef"]["call"][0] += 0.1
    path.write_text(json.dumps(document))
    with pytest.raises(CreditmeshError, match="content hash"):
        load_uplift(path)


def test_unknown_actions_and_too_little_history_are_refused():
    queue = random_queue(100)
    with pytest.raises(CreditmeshError, match="unknown action"):
        UpliftModel().fit(queue, np.full(100, "pigeon", dtype=object), np.zeros(100))
    with pytest.raises(CreditmeshError, match="no-contact arm"):
        UpliftModel().fit(queue, np.full(100, "sms", dtype=object), np.zeros(100))


def test_the_exploration_holds_out_its_controls_and_the_model_learns_on_them_alone():
    """Loans no action was open to (a borrower's second loan) are not controls: with them in the no-contact
    arm a contact that changes nothing showed a large uplift; on the eligible rows, with the held-out
    borrowers' loans as controls, it shows none."""
    from creditmesh.collections.backtest import fit_uplift
    from creditmesh.collections.simulation import EXPLORE_HOLDOUT, held_out

    queue = random_queue(24_000, seed=21)
    rng = np.random.default_rng(22)
    control = held_out(queue["borrower_id"].to_numpy(dtype=object), 21)
    assert abs(control.mean() - EXPLORE_HOLDOUT) < 0.02
    assert (control == held_out(queue["borrower_id"].to_numpy(dtype=object), 21)).all()
    assert (control != held_out(queue["borrower_id"].to_numpy(dtype=object), 22)).any()
    eligible = rng.random(len(queue)) < 0.6
    action = np.where(
        eligible & ~control, rng.choice(np.array(["sms", "call"], dtype=object), len(queue)), "none"
    ).astype(object)
    # contact changes nothing: among the eligible half pay, whatever is done; the others never pay
    paid = eligible & (rng.random(len(queue)) < 0.5)
    history = queue.assign(
        action=action,
        eligible=eligible,
        control=control,
        recovered_minor=np.where(paid, queue["at_stake_minor"].to_numpy(), 0),
    )
    rows = history[history["eligible"]]

    def uplift(model):
        share = model.share(rows)
        return float(np.mean(share["call"] - share["none"]))

    assert abs(uplift(fit_uplift(history))) < 0.05
    assert uplift(fit_uplift(history.drop(columns=["eligible", "control"]))) > 0.15
