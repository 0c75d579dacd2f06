"""``make demo``'s last step: a few borrowers through a running service, their loans printed."""

from __future__ import annotations

from creditmesh.api import demo


def test_the_demo_drives_borrowers_through_the_service_and_prints_their_loans(
    model_path, settings, tmp_path, capsys
):
    assert (
        demo.main(
            [
                "--model",
                str(model_path),
                "--partners",
                str(settings.partners_path),
                "--db",
                str(tmp_path / "demo.db"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.count("borrower ") == len(demo.APPLICANTS)
    assert "-> loan ln_" in out and "FI-LIGHT" in out and "settles today for" in out
