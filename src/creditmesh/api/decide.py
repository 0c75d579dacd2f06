"""A stored decision as the caller may see it (no score, PD, grade, arm or shadow)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from creditmesh.api.models import DecisionOut


def stored_decision(row: Mapping[str, Any]) -> DecisionOut:
    """The public answer of the audit log's stored row."""
    return DecisionOut.from_row(json.loads(row["decision"]))
