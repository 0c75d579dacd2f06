"""Collections: the daily queue from the ledger, strategies as data, an uplift score, the day's plan within
capacity, promises to pay, and the record of what was done."""

from creditmesh.collections.actions import ActionRecord, CollectionsError
from creditmesh.collections.assign import Assignment, assign_day, dpd_order_plan
from creditmesh.collections.desk import CollectionsDesk
from creditmesh.collections.queue import build_queue
from creditmesh.collections.strategy import (
    Strategy,
    StrategyError,
    default_strategy_path,
    default_uplift_path,
    load_strategy,
    strategy_from_dict,
)
from creditmesh.collections.uplift import UpliftModel, load_uplift, save_uplift, score_queue

__all__ = [
    "ActionRecord",
    "Assignment",
    "CollectionsDesk",
    "CollectionsError",
    "Strategy",
    "StrategyError",
    "UpliftModel",
    "assign_day",
    "build_queue",
    "default_strategy_path",
    "default_uplift_path",
    "dpd_order_plan",
    "load_strategy",
    "load_uplift",
    "save_uplift",
    "score_queue",
    "strategy_from_dict",
]
