"""A received project's scorers.py never runs before the user trusts it (issue #12): the planted file writes a
marker when executed; opening the project, listing scorers and loading them for the trade-offs must not write it
until the user presses "Trust and Run" in a dialog that shows the file and its hash."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QDialog, QLabel

from workbench.core.scorer_trust import TrustBook, file_sha256
from workbench.services.tradeoffs import load_scorers, scorer_names
from workbench.store.db import create_project
from workbench.ui.dialogs.scorer_trust_dialog import ScorerTrustDialog


def _received_project(tmp_path: Path) -> tuple[Path, Path]:
    """A project folder as someone sends it: the project file plus a scorers.py that writes a marker file."""
    project = tmp_path / "received" / "p.sqlite"
    project.parent.mkdir()
    create_project(project).close()
    marker = tmp_path / "marker.txt"
    (project.parent / "scorers.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('code ran')\n\n"
        "def score_words(prompt, response):\n    return len(response.split())\n", encoding="utf-8")
    return project, marker


def test_scorer_features_wait_and_say_why_until_trusted(tmp_path):
    project, marker = _received_project(tmp_path)
    names, problem = scorer_names(project)
    assert "words" not in names and "length_tokens" in names  # built-ins work
    assert "has not been trusted" in problem and "Trust Project Scorers" in problem
    assert load_scorers(project, {"helpful": "words"}) == {}
    assert not marker.exists()
    TrustBook().trust(project, file_sha256(project.with_name("scorers.py")))
    names, problem = scorer_names(project)
    assert "words" in names and problem == "" and marker.exists()


def test_an_edited_file_asks_again(tmp_path):
    project, marker = _received_project(tmp_path)
    TrustBook().trust(project, file_sha256(project.with_name("scorers.py")))
    with open(project.with_name("scorers.py"), "a", encoding="utf-8") as fh:
        fh.write("# changed\n")
    marker.unlink(missing_ok=True)
    assert "has not been trusted" in scorer_names(project)[1] and not marker.exists()


def test_trust_is_per_project_path(tmp_path):
    project, marker = _received_project(tmp_path)
    TrustBook().trust(tmp_path / "other.sqlite", file_sha256(project.with_name("scorers.py")))
    assert "has not been trusted" in scorer_names(project)[1] and not marker.exists()


def test_opening_the_project_asks_with_file_and_hash(qtbot, window, ctx, tmp_path):
    project, marker = _received_project(tmp_path)
    assert window.open_project(str(project))
    dialog = window.trust_dialog
    assert isinstance(dialog, ScorerTrustDialog) and dialog.isVisible()
    sha = file_sha256(project.with_name("scorers.py"))
    assert dialog.sha256 == sha and dialog.file == project.with_name("scorers.py")
    assert "def score_words" in dialog.text.toPlainText()
    shown = dialog.findChild(QLabel, "hint").text()
    assert f"SHA-256: {sha}" in shown and str(project.with_name("scorers.py")) in shown
    assert not marker.exists()
    dialog.reject()  # "Not Now": nothing recorded, nothing run
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert not TrustBook().is_trusted(project, sha) and not marker.exists()
    window.ask_scorer_trust()
    window.trust_dialog.trust_button.click()
    assert TrustBook().is_trusted(project, sha)
    assert "words" in scorer_names(project)[0] and marker.exists()
    window.ask_scorer_trust()
    assert window.trust_dialog is None  # trusted: no second question
