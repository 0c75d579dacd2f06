"""Moved to :mod:`creditmesh.ids` (the ledger formats payment ids with it too).

Kept only for ``simulate/platform.py``, which another branch is rewriting; delete this file once
that module imports :mod:`creditmesh.ids`.
"""

from creditmesh.ids import format_ids, hex_strings, salted_hash, splitmix64

__all__ = ["format_ids", "hex_strings", "salted_hash", "splitmix64"]
