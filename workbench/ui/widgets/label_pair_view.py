"""The pair on screen: the prompt on top, the two responses side by side, rendered readably.

Text is shown as Markdown through QTextDocument.setMarkdown (fenced code blocks come out monospace, long lines wrap);
chat-message prompts are shown as a transcript. Which response is left is decided by the LabelSession
(`Screen.swapped`), never here, so the position-bias record always matches what was displayed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QLabel, QSplitter, QTextBrowser, QVBoxLayout, QWidget
from PySide6.QtCore import Qt


def as_markdown(text: str, messages: list[dict[str, str]] | None = None) -> str:
    """Markdown for a prompt or response; a conversation becomes '**role:** content' paragraphs."""
    if messages:
        return "\n\n".join(f"**{m.get('role', '?')}:** {m.get('content', '')}" for m in messages)
    return text


class MarkdownView(QTextBrowser):
    """A read-only, wrapping Markdown view with monospace code blocks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setOpenExternalLinks(False)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the labelling rows
        self.setLineWrapMode(QTextBrowser.LineWrapMode.WidgetWidth)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.document().setDefaultStyleSheet(f"pre, code {{ font-family: '{fixed.family()}'; }}")

    def set_markdown(self, text: str, raw: bool = False) -> None:
        """Rendered Markdown, or (raw) the exact characters, e.g. to see the Markdown markup a model wrote."""
        if raw:
            self.document().setPlainText(text)
        else:
            self.document().setMarkdown(text)


class PairView(QWidget):
    """Prompt (top) + left/right responses (side by side)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = MarkdownView()
        self.left = MarkdownView()
        self.right = MarkdownView()
        self.prompt_title = QLabel("Prompt")
        self.left_title = QLabel("A  (1 / ←)")
        self.right_title = QLabel("B  (2 / →)")
        bold = QFont()
        bold.setBold(True)
        for title in (self.prompt_title, self.left_title, self.right_title):
            title.setFont(bold)
        sides = QSplitter(Qt.Orientation.Horizontal)
        sides.addWidget(_titled(self.left_title, self.left))
        sides.addWidget(_titled(self.right_title, self.right))
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(_titled(self.prompt_title, self.prompt))
        split.addWidget(sides)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.shown_pair_id: int | None = None
        self.raw = False  # show the raw text instead of rendered Markdown (issue #13)
        self._screen: Any = None

    def set_raw(self, raw: bool) -> None:
        self.raw = bool(raw)
        if self._screen is not None:
            self.show_screen(self._screen)

    def show_screen(self, screen: Any) -> None:
        """Render a LabelSession Screen (or clear with None)."""
        self._screen = screen
        if screen is None:
            self.shown_pair_id = None
            for view in (self.prompt, self.left, self.right):
                view.clear()
            self.prompt_title.setText("Prompt")  # not the last pair's number over an empty screen
            return
        left, right = screen.left_right()
        prompt = screen.view.prompt
        self.prompt.set_markdown(as_markdown(prompt.text, prompt.messages), self.raw)
        self.left.set_markdown(as_markdown(left.text, left.messages), self.raw)
        self.right.set_markdown(as_markdown(right.text, right.messages), self.raw)
        self.prompt_title.setText(f"Prompt  ·  pair {screen.pair_id}")
        self.shown_pair_id = screen.pair_id


def _titled(title: QLabel, body: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(2, 2, 2, 2)
    layout.addWidget(title)
    layout.addWidget(body, 1)
    return box
