"""``python -m creditmesh.cli``: the same command as the ``creditmesh`` script."""

from creditmesh.cli import app

app()
