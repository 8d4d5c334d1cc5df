"""Asking before a project's own Python code runs (issue #12, core/scorer_trust.py): the dialog shows the file,
its SHA-256 and its text; only "Trust and Run" records trust (per project path + hash, in the user's settings)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QMessageBox, QPlainTextEdit, QPushButton,
                               QVBoxLayout, QWidget)

from workbench.core.scorer_trust import TrustBook, pending_trust

SHOWN_BYTES = 200_000  # a scorers file is a page or two; a huge one is cut in the preview, never in the hash


class ScorerTrustDialog(QDialog):
    def __init__(self, project: Path, file: Path, sha256: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project, self.file, self.sha256 = project, file, sha256
        self.setWindowTitle("Run this project's code?")
        intro = QLabel(
            f"<b>{project.name}</b> comes with Python code, <b>{file.name}</b>, that defines scorers. Its scorers "
            "run on this computer with your permissions (when runs are evaluated or trained with them). "
            "Trust it only if you know where the project comes from. Until then, features that use its "
            "scorers wait; the built-in scorers work either way.")
        intro.setWordWrap(True)
        where = QLabel(f"File: {file}\nSHA-256: {sha256}")
        where.setObjectName("hint")
        where.setTextInteractionFlags(where.textInteractionFlags() | where.textInteractionFlags().TextSelectableByMouse)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        data = file.read_bytes()
        self.text.setPlainText(data[:SHOWN_BYTES].decode("utf-8", errors="replace")
                               + ("\n… (cut here in this preview)" if len(data) > SHOWN_BYTES else ""))
        self.buttons = QDialogButtonBox()
        self.trust_button = QPushButton("Trust and Run")
        self.buttons.addButton(self.trust_button, QDialogButtonBox.ButtonRole.AcceptRole)
        not_now = self.buttons.addButton("Not Now", QDialogButtonBox.ButtonRole.RejectRole)
        not_now.setDefault(True)  # Enter never trusts by accident
        self.buttons.accepted.connect(self._trust)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (intro, where, self.text, self.buttons):
            layout.addWidget(widget)
        self.resize(720, 520)

    def _trust(self) -> None:
        TrustBook().trust(self.project, self.sha256)
        self.accept()


def ask_scorer_trust(parent: QWidget | None, project: Path | None, scorers_file: Path | None, *,
                     on_trusted=None, say_when_nothing: bool = False) -> ScorerTrustDialog | None:
    """Open the dialog (non-blocking) when the project's scorers file exists and is not trusted; `on_trusted` runs
    after the user trusts it. With `say_when_nothing`, a short note says there is nothing to trust."""
    sha = pending_trust(project, scorers_file) if project is not None and scorers_file is not None else None
    if sha is None:
        if say_when_nothing:
            QMessageBox.information(parent, "Project scorers", "This project has no untrusted scorers file.")
        return None
    dialog = ScorerTrustDialog(project, scorers_file, sha, parent)
    if on_trusted is not None:
        dialog.accepted.connect(on_trusted)
    dialog.open()
    return dialog
