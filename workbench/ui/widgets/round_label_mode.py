"""The Label panel's round mode (issue #15): labelling one round's pairs, with a banner saying how far it is.

The Rounds panel's Label step calls LabelPanel.label_round(N). The queue then holds only round N's pairs that are
not labelled yet, in the round's active order (store/round_label.py holds the rule, shared with
`workbench round --step label`), for the round's objectives; the panel's objective, order and overlap choices do
not apply (they are disabled) until "Whole queue" leaves the round. The banner reads "Round N: k of m pairs
labelled" from the store after every label and undo; once every pair is labelled the round's Label step is marked
done (ctx.notify("labels"): the Rounds panel reloads and offers Train) and the banner says so; an undo before the
round trains opens the step again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget

from workbench.services.context import AppContext
from workbench.services.label_queries import round_progress, round_queue
from workbench.ui.errors import run_task


def banner_text(number: int, labelled: int, total: int, done: bool) -> str:
    """The banner's line (tested without a window)."""
    if done:
        return (f"Round {number}: all {total} pair{'s' if total != 1 else ''} labelled — its Label step is done; "
                "train the round in the Rounds panel.")
    return f"Round {number}: {labelled} of {total} pairs labelled"


class RoundBanner(QFrame):
    """A strip above the pair: the round's progress, its order in words, and the way back to the whole queue."""

    exit_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("roundBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.order = QLabel("")
        self.order.setObjectName("hint")
        self.order.setWordWrap(True)
        self.exit_button = QPushButton("Back to the whole queue")
        self.exit_button.setToolTip("Stop labelling this round only; the queue offers every project pair again")
        self.exit_button.clicked.connect(self.exit_requested)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.addWidget(self.text, 2)
        lay.addWidget(self.order, 3)
        lay.addWidget(self.exit_button)
        self.hide()


class RoundLabelMode(QObject):
    """The round the Label panel is labelling (None: the whole queue), its banner and the controls it overrides."""

    left = Signal()  # "Whole queue" (or another project) ended the round mode
    counted = Signal()  # labelled / total / done re-read from the store

    def __init__(self, ctx: AppContext, overridden: Callable[[], Sequence[QWidget]],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.queue: Any = None  # store.round_label.RoundQueue of the round being labelled
        self.labelled = self.total = 0
        self.done = False
        self.banner = RoundBanner(parent)
        self.banner.exit_requested.connect(self.leave)
        self._overridden = overridden
        ctx.project_changed.connect(lambda: self.leave(quietly=True))  # the panel reloads for the other project

    @property
    def active(self) -> bool:
        return self.queue is not None

    def open_round(self, number: int, panel: Any) -> None:
        """Enter round `number` and start labelling it in the Label panel `panel` when an annotator is chosen."""
        run_task(self._open_round(number, panel), panel, "Could not open the round's pairs")

    async def _open_round(self, number: int, panel: Any) -> None:
        await self.enter(number)
        if panel.annotator.currentData() is not None:
            QTimer.singleShot(0, panel.start_session)  # from the event loop: it starts tasks of its own
        else:
            panel.progress.setText(f"Add an annotator (your name) and press Start labelling to label round {number}.")

    async def enter(self, number: int) -> None:
        """Load round `number`'s queue (DB thread) and show the banner."""
        self.queue = await self.ctx.db.call(round_queue, number)
        self.labelled, self.total, self.done = self.queue.labelled, self.queue.total, False
        self.banner.order.setText(f"Order: {self.queue.order_text()}")
        self.banner.show()
        self._set_overridden(False)
        self._show()
        await self._refresh(self.queue)  # a round the automatic labeller finished is done at once

    def leave(self, quietly: bool = False) -> None:
        """Back to the whole queue (`left` restarts the panel's session there, unless `quietly`)."""
        if self.queue is None:
            return
        self.queue = None
        self.banner.hide()
        self._set_overridden(True)
        if not quietly:
            self.left.emit()

    def refresh(self) -> None:
        """Re-count from the store (after a label or an undo)."""
        if self.queue is not None:
            run_task(self._refresh(self.queue), self.banner, "Could not count the round's labels")

    async def _refresh(self, queue: Any) -> None:
        labelled, total, done = await self.ctx.db.call(round_progress, queue.number)
        if queue is not self.queue:
            return
        self.banner.order.setText(f"Order: {queue.left(labelled).order_text()}")  # what is left
        changed = done != self.done
        self.labelled, self.total, self.done = len(labelled), total, done
        self._show()
        self.counted.emit()
        if changed:
            self.ctx.notify("labels")  # the Rounds panel reloads: Train is (or, after an undo, is no longer) next

    def exhausted_text(self) -> str:
        """What the progress line says when this annotator's round queue is empty."""
        if self.done:
            return f" — Round {self.queue.number} is labelled: train it in the Rounds panel."
        return (f" — No pair of round {self.queue.number} is left for this annotator; "
                f"{self.total - self.labelled} still need a label from someone else.")

    def _show(self) -> None:
        self.banner.text.setText(banner_text(self.queue.number, self.labelled, self.total, self.done))

    def _set_overridden(self, enabled: bool) -> None:
        for widget in self._overridden():
            widget.setEnabled(enabled)
