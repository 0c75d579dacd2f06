"""``creditmesh collections`` through Typer's runner, over a SQLite ledger."""

import json
from datetime import date

import numpy as np
import yaml
from _queues import random_queue, true_share
from typer.testing import CliRunner

from creditmesh.cli import app
from creditmesh.collections import UpliftModel, default_strategy_path, save_uplift
from creditmesh.ledger import Ledger, LoanTerms

runner = CliRunner()


def test_check_prints_the_version_and_refuses_a_bad_file_with_exit_2(tmp_path):
    good = runner.invoke(app, ["collections", "check", str(default_strategy_path())])
    assert good.exit_code == 0 and good.output.startswith("champion: version ")
    document = yaml.safe_load(default_strategy_path().read_text())
    document["contact_rules"]["max_contacts_per_day"] = 99
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(document))
    bad = runner.invoke(app, ["collections", "check", str(tmp_path / "bad.yaml")])
    assert bad.exit_code == 2 and "contact_rules.max_contacts_per_day" in bad.output


def test_queue_and_assign_read_the_ledger(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger.connect(url)
    for k in range(8):
        ledger.book_loan(LoanTerms(f"L{k}", f"B{k}", 1_000_000, 180_000, 6, date(2024, 1, 15 + k)))
    ledger.close()
    queue = runner.invoke(app, ["collections", "queue", "2024-03-20", "--db", url, "--output", "json"])
    assert queue.exit_code == 0, queue.output
    answer = json.loads(queue.output)
    assert answer["loans"] == 8 and answer["rows"][0]["dpd"] == 34
    history = random_queue(5_000, seed=1)
    action = np.random.default_rng(2).choice(np.array(["none", "sms", "call"], dtype=object), 5_000)
    paid = np.random.default_rng(3).random(5_000) < true_share(history, action)
    model = save_uplift(
        UpliftModel().fit(history, action, np.where(paid, history["at_stake_minor"], 0)), tmp_path / "u.json"
    )
    plan = tmp_path / "plan.parquet"
    assigned = runner.invoke(
        app,
        ["collections", "assign", "2024-03-20", "--db", url, "--model", str(model), "--out", str(plan)],
        catch_exceptions=False,
    )
    assert assigned.exit_code == 0, assigned.output
    assert "price_per_agent_minor" in assigned.output and plan.exists()
    shipped = runner.invoke(app, ["collections", "assign", "2024-03-20", "--db", url, "--output", "json"])
    assert shipped.exit_code == 0 and json.loads(shipped.output)["method"] == "optimise"
    bad = runner.invoke(
        app, ["collections", "assign", "2024-03-20", "--db", url, "--model", str(tmp_path / "no.json")]
    )
    assert bad.exit_code == 2 and "not an uplift model" in bad.output
