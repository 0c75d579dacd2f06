"""The simulated book the command-line tests read (one simulation a session, shared by the test files)."""

import pytest
from typer.testing import CliRunner

from creditmesh.cli import app


@pytest.fixture(scope="session")
def cli_book(tmp_path_factory):
    """A small book simulated through the command (placeholders: seconds, not minutes)."""
    out = tmp_path_factory.mktemp("cli") / "book"
    args = [
        "simulate",
        "--placeholders",
        "--borrowers",
        "1500",
        "--months",
        "9",
        "--seed",
        "5",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out
