"""The back-test runs the simulated platform's own servicing world: replayed under the collector the platform
had, every installment is paid on the day the platform's book shows (a small book, about 5 s)."""

import numpy as np
import pyarrow.compute as pc

from creditmesh.collections.backtest import last_days, simulated_book, warm_up, world_from_simulation
from creditmesh.simulate.collections import NOT_YET


def test_the_replayed_world_pays_each_installment_when_the_platform_did():
    result = simulated_book(2_000, 5, months=12)
    horizon = last_days(result, 0)
    world = warm_up(world_from_simulation(result), horizon)
    installments = result.tables["installments"]
    start = np.datetime64(result.config.start, "D")
    loan = np.array([int(x[1:]) for x in installments["loan_id"].to_pylist()])
    due = (installments["due_date"].to_numpy().astype("datetime64[D]") - start).astype(np.int64)
    paid_at = installments["paid_at"]
    paid = np.where(
        pc.is_null(paid_at).to_numpy(zero_copy_only=False),
        -1,
        (paid_at.fill_null(0).to_numpy().astype("datetime64[D]") - start).astype(np.int64),
    )
    order = np.lexsort((due, loan))  # the world's rows: loan after loan, in due order
    replayed = world.rows["paid_on"].astype(np.int64)
    replayed = np.where((replayed < horizon) & (replayed != NOT_YET), replayed, -1)
    assert world.rows.size == installments.num_rows > 10_000
    assert (paid >= 0).sum() > 5_000 and (paid < 0).any()  # a book with paid and unpaid installments
    np.testing.assert_array_equal(replayed, paid[order])
    # the arms start from it: the last 182 days begin where the warm-up stops
    assert last_days(result, 182) == horizon - 182
