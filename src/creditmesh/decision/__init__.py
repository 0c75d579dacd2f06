"""Decision: credit policies as data, a rule language, and the engine that decides the three credit decisions.

:func:`load_policy` reads a versioned, content-hashed policy file; :class:`DecisionEngine`
decides credit lines, drawdowns and line adjustments for a table or one application with the
same answers, with champion/challenger arms and a shadow policy; :class:`EnginePolicy` lets the
simulator run on it.
"""

from creditmesh.decision.engine import (
    Decision,
    DecisionEngine,
    arm_results,
    assign_arms,
    automation_rate,
    decisions_table,
)
from creditmesh.decision.policy import (
    CreditPolicy,
    PolicyError,
    PolicyReport,
    check_policy,
    default_policy_path,
    load_policy,
    policy_from_dict,
)
from creditmesh.decision.rules import Condition, DecisionTable, RuleError, compile_rule
from creditmesh.decision.simulator import EnginePolicy

__all__ = [
    "Condition",
    "CreditPolicy",
    "Decision",
    "DecisionEngine",
    "DecisionTable",
    "EnginePolicy",
    "PolicyError",
    "PolicyReport",
    "RuleError",
    "arm_results",
    "assign_arms",
    "automation_rate",
    "check_policy",
    "compile_rule",
    "decisions_table",
    "default_policy_path",
    "load_policy",
    "policy_from_dict",
]
