"""Per-objective answer rows: one row per objective, answered top to bottom with the same keys.

One screen of rows is one reward vector for the pair. The focused row is highlighted; each answered row shows what
was chosen (as seen on screen: left/right/tie/skip) and its strength.
"""

from __future__ import annotations

from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QWidget

from workbench.core.entities import STRENGTHS, Objective

SHOWN_TEXT = {"left": "◀ A better", "right": "B better ▶", "tie": "= tie", "skip": "skipped"}


class LabelRows(QFrame):
    """The rows; `set_focus_row`, `set_answer`, `clear_answer` are driven by the panel from session signals."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(8, 6, 8, 6)
        self.names: list[QLabel] = []
        self.answers: list[QLabel] = []
        self.focus_row = 0
        self.pending_strength = 2

    def set_objectives(self, objectives: list[Objective]) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.names, self.answers = [], []
        for row, obj in enumerate(objectives):
            name = QLabel(f"<b>{obj.name}</b>" + (f" — {obj.description}" if obj.description else ""))
            name.setWordWrap(True)
            answer = QLabel("")
            answer.setMinimumWidth(170)
            self.grid.addWidget(name, row, 0)
            self.grid.addWidget(answer, row, 1)
            self.names.append(name)
            self.answers.append(answer)
        self.grid.setColumnStretch(0, 1)
        self.set_focus_row(0)

    def clear_all(self) -> None:
        for row in range(len(self.answers)):
            self.clear_answer(row)

    def set_answer(self, row: int, shown: str, strength: int) -> None:
        if 0 <= row < len(self.answers):
            extra = f"  ({STRENGTHS.get(strength, strength)})" if shown in ("left", "right") else ""
            self.answers[row].setText(SHOWN_TEXT.get(shown, shown) + extra)

    def set_given(self, row: int, shown: str, who: str) -> None:
        """A row the pair already has an answer for (a round's automatic label): its answer and who gave it; the
        session never focuses it."""
        if 0 <= row < len(self.answers):
            self.answers[row].setText(f"{SHOWN_TEXT.get(shown, shown)} — given by {who}")
            self.answers[row].setToolTip(f"This round already has {who}'s label for it, so it is not asked again")

    def clear_answer(self, row: int) -> None:
        if 0 <= row < len(self.answers):
            self.answers[row].setText("")
            self.answers[row].setToolTip("")

    def set_pending_strength(self, strength: int) -> None:
        self.pending_strength = strength
        self._restyle()

    def set_focus_row(self, row: int) -> None:
        self.focus_row = row
        self.pending_strength = 2
        self._restyle()

    def _restyle(self) -> None:
        for row, (name, answer) in enumerate(zip(self.names, self.answers)):
            focused = row == self.focus_row
            style = "background: palette(highlight); color: palette(highlighted-text); padding: 4px;" if focused \
                else "padding: 4px;"
            name.setStyleSheet(style)
            answer.setStyleSheet(style)
            if focused and (not answer.text() or answer.text().startswith("…")):
                answer.setText(f"…  strength: {STRENGTHS[self.pending_strength]}")
            elif not focused and answer.text().startswith("…"):
                answer.setText("")
