"""The response on screen in step mode (issue #17): the prompt on top, then the response's steps, one row each, with
this annotator's rating beside every step and the focused step highlighted. Display only: the StepLabelPane
(label_steps_pane.py) drives it from the StepLabelSession's signals."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QSplitter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from workbench.core.steps import BAD, GOOD, NEUTRAL
from workbench.ui.widgets.label_pair_view import MarkdownView, _titled, as_markdown

RATING_TEXT = {GOOD: "✓ good", NEUTRAL: "○ neutral", BAD: "✗ bad", None: ""}
RATING_COLOUR = {GOOD: "#cfe8d5", NEUTRAL: "#e4e4e4", BAD: "#f3c9cd"}


def rating_text(rating: int | None, first_error: bool = False) -> str:
    return "✗ first error" if first_error and rating == BAD else RATING_TEXT.get(rating, str(rating))


class StepsView(QWidget):
    """Prompt + a table of steps (#, rating, text)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = MarkdownView()
        self.prompt_title = QLabel("Prompt")
        self.steps_title = QLabel("Steps")
        bold = QFont()
        bold.setBold(True)
        for title in (self.prompt_title, self.steps_title):
            title.setFont(bold)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Step", "Rating", "Text"])
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the pane
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(_titled(self.prompt_title, self.prompt))
        split.addWidget(_titled(self.steps_title, self.table))
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.shown_response_id: int | None = None
        self.focus = 0

    def show_screen(self, screen: Any) -> None:
        """Render a StepScreen (None clears)."""
        if screen is None:
            self.shown_response_id = None
            self.prompt.clear()
            self.table.setRowCount(0)
            self.steps_title.setText("Steps")
            return
        prompt = screen.prompt
        self.prompt.set_markdown(as_markdown(prompt.text, prompt.messages))
        answer = f"  ·  reference answer: {screen.reference_answer}" if screen.reference_answer else ""
        self.prompt_title.setText(f"Prompt  ·  response {screen.response_id}{answer}")
        self.table.setRowCount(len(screen.steps))
        for row, step in enumerate(screen.steps):
            rating = screen.ratings[row] if row < len(screen.ratings) else None
            cells = [str(row + 1), rating_text(rating, screen.first_error == row), step.text]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if rating is not None:
                    item.setBackground(QBrush(QColor(RATING_COLOUR[rating])))
                self.table.setItem(row, col, item)
        self.table.resizeRowsToContents()
        self.shown_response_id = screen.response_id
        self.set_focus_row(min(self.focus, max(0, len(screen.steps) - 1)))

    def set_focus_row(self, row: int) -> None:
        self.focus = row
        if 0 <= row < self.table.rowCount():
            self.table.selectRow(row)
            self.table.scrollToItem(self.table.item(row, 0))

    def ratings_shown(self) -> list[str]:
        """The rating column as shown (tests and screen readers)."""
        return [self.table.item(r, 1).text() for r in range(self.table.rowCount())]

