"""creditmesh: an open-source credit-tech platform.

Boxes (DESIGN.md): simulate -> graph -> scoring -> decision -> matching -> ledger
-> collections -> portfolio, over the tables declared in :mod:`creditmesh.schema`
and the amounts of :mod:`creditmesh.money`.
"""

__version__ = "0.1.0"
