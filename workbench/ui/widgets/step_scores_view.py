"""What a reward-guided generation did, beside its text (issue #17 item 5): for a PRM step search, one row per
accepted step with its PRM score (P(step is good)) colour-coded from red (0) through amber to green (1), the
candidates it was chosen from as child rows (expand a step to see them, the kept one in bold); for best-of-N, one
row per sample with its weighted reward and the reward per objective, the chosen sample first and in bold.

Rows arrive as the worker streams them (`add_step`), and the final result fills in the candidates (`show_result`).
The scores come from the worker; nothing is computed here but colours.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

BAD, MID, GOOD = QColor("#d9534f"), QColor("#f0ad4e"), QColor("#5cb85c")


def score_color(score: float | None) -> QColor:
    """Red at 0, amber at 0.5, green at 1 (linear in between); grey when there is no score."""
    if score is None:
        return QColor("#9e9e9e")
    s = min(1.0, max(0.0, float(score)))
    a, b, t = (BAD, MID, s * 2) if s < 0.5 else (MID, GOOD, (s - 0.5) * 2)
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


def _score_text(score: Any) -> str:
    return "–" if score is None else f"{float(score):.3f}"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


class StepScoresView(QWidget):
    """See the module docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("")
        self.summary.setObjectName("hint")
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["#", "Score", "Step"])
        self.tree.setRootIsDecorated(True)
        self.tree.setWordWrap(True)
        self.tree.setUniformRowHeights(False)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.summary)
        lay.addWidget(self.tree, 1)
        self.clear()

    def clear(self, mode: str = "prm_steps") -> None:
        self.mode = mode
        self.tree.clear()
        self.tree.setHeaderLabels(["#", "PRM score" if mode == "prm_steps" else "Reward",
                                   "Step" if mode == "prm_steps" else "Sample"])
        self.summary.setText("")

    def _row(self, parent: QTreeWidget | QTreeWidgetItem, label: str, score: Any, text: str, *, bold: bool = False,
             colour: bool = True, tip: str = "") -> QTreeWidgetItem:
        item = QTreeWidgetItem([label, _score_text(score), _one_line(text)])
        if colour:
            fill = score_color(None if score is None else float(score))
            item.setBackground(1, QBrush(fill))
            item.setForeground(1, QBrush(QColor("#ffffff" if fill.lightness() < 150 else "#000000")))
        item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        item.setToolTip(2, tip or str(text))
        if bold:
            font = QFont(item.font(2))
            font.setBold(True)
            for col in range(3):
                item.setFont(col, font)
        if isinstance(parent, QTreeWidget):
            parent.addTopLevelItem(item)
        else:
            parent.addChild(item)
        return item

    def add_step(self, index: int, text: str, score: Any) -> None:
        """A step as it is streamed (the candidates follow with the result)."""
        self._row(self.tree, str(index + 1), score, text)

    def steps(self) -> list[tuple[str, str]]:
        """(score text, step text) of the top-level rows, in order (what a reader sees)."""
        return [(self.tree.topLevelItem(i).text(1), self.tree.topLevelItem(i).text(2))
                for i in range(self.tree.topLevelItemCount())]

    def show_result(self, data: dict[str, Any]) -> None:
        """Fill the view from a guided `result` (guided_requests.py): steps with their candidates, or samples."""
        mode = str(data.get("mode") or "prm_steps")
        self.clear(mode)
        if mode == "prm_steps":
            steps = list(data.get("steps") or [])
            for i, step in enumerate(steps):
                item = self._row(self.tree, str(i + 1), step.get("score"), step.get("text", ""))
                for j, cand in enumerate(step.get("candidates") or []):
                    self._row(item, f"{i + 1}.{j + 1}", cand.get("score"), cand.get("text", ""),
                              bold=j == step.get("chosen"))
            scores = [float(s["score"]) for s in steps if s.get("score") is not None]
            k = (data.get("guide") or {}).get("k", "?")
            low = f", lowest {min(scores):.3f}" if scores else ""
            self.summary.setText(f"{len(steps)} steps, each the best of {k} candidates by the PRM{low}; "
                                 f"{data.get('tokens', 0)} tokens decoded, {data.get('response_tokens', 0)} kept "
                                 f"({data.get('finish', '')}). Expand a step to see its candidates.")
        else:
            cands = list(data.get("candidates") or [])
            chosen = int(data.get("chosen") or 0)
            order = [chosen] + [i for i in range(len(cands)) if i != chosen]
            for i in order:
                c = cands[i]
                per = ", ".join(f"{o} {v:.3f}" for o, v in (c.get("scores") or {}).items())
                self._row(self.tree, str(i + 1), c.get("total"), c.get("text", ""), bold=i == chosen,
                          colour=False, tip=f"{per}\n\n{c.get('text', '')}")
            weights = ", ".join(f"{o} {w:.2f}" for o, w in (data.get("weights") or {}).items())
            self.summary.setText(f"Best of {len(cands)} samples by the reward model, weights {weights}: sample "
                                 f"{chosen + 1} (bold). Hover a sample for its reward per objective.")
        self.tree.expandAll()
