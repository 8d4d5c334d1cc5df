"""The reward model's suggested label under the pair in the Label panel (issue #17 item 4b).

A finished `reward_model` run leaves run_dir/pair_suggestions.json (workbench.core.rm_suggestions); the newest one
is read when a labelling session starts. For the focused row's objective the bar says which side the model
prefers and how sure it is, in screen terms ("Model suggests the left response (A), p = 0.83 — Y confirms");
the confirm key answers the row with that side as the annotator's own label (noted as a confirmation, so
agreement statistics can leave it out), and any other key labels as usual, overturning it.

Showing a suggestion anchors people (they agree more often than they would alone), so it is off unless the
annotator ticks "Model suggestions"; the choice is remembered.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QWidget

from workbench.core.rm_suggestions import Suggestion, Suggestions, latest_suggestions, model_agreement

SHOW_KEY = "label/show_suggestions"


class SuggestionBar(QWidget):
    """`load(runs_root)` at session start, `show_for(screen, objective)` per row, `shown_choice()` for the confirm
    key ("left" / "right", or None when nothing is suggested)."""

    def __init__(self, settings: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.suggestions: Suggestions = {}
        self.source: Path | None = None
        self.current: Suggestion | None = None
        self.swapped = False
        self.confirm_keys = "Y"
        self.toggle = QCheckBox("Model suggestions")
        self.toggle.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys belong to the labelling rows
        self.toggle.setToolTip("Show the trained reward model's suggested label for each row (from the newest "
                               "reward_model run). Suggestions can sway judgement: leave off for independent labels.")
        on = settings.value(SHOW_KEY, False) if settings is not None else False
        self.toggle.setChecked(on in (True, "true", "1", 1))
        self.toggle.toggled.connect(self._on_toggled)
        self.text = QLabel("")
        self.text.setObjectName("hint")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.toggle)
        lay.addWidget(self.text, 1)
        self._screen: Any = None
        self._objective: str | None = None

    def load(self, runs_root: Path | None) -> int:
        """Read the newest suggestions file under `runs_root`; returns how many pairs it covers."""
        found = latest_suggestions(runs_root)
        self.source, self.suggestions = (found if found is not None else (None, {}))
        return len(self.suggestions)

    def show_for(self, screen: Any, objective: str | None) -> None:
        """The suggestion for the pair on `screen` (a label_session.Screen, or None) on `objective`."""
        self._screen, self._objective = screen, objective
        self.current = None
        if screen is not None and objective is not None:
            self.current = self.suggestions.get(int(screen.pair_id), {}).get(objective)
            self.swapped = bool(screen.swapped)
        self._render()

    def shown_choice(self) -> str | None:
        """The side on screen the model prefers, when a suggestion is shown."""
        if self.current is None or not self.toggle.isChecked():
            return None
        return "right" if (self.current.choice == "a") == self.swapped else "left"

    def _render(self) -> None:
        s = self.current
        if not self.toggle.isChecked():
            self.text.setText("")
        elif s is None:
            self.text.setText("No model suggestion for this pair." if self.suggestions else
                              "No suggestions yet: train a reward model (New Run ▸ kind reward_model).")
        else:
            side = self.shown_choice()
            self.text.setText(f"Model suggests the {side} response ({s.choice.upper()}), p = {s.confidence:.2f} "
                              f"— {self.confirm_keys} confirms, or label as you judge")

    def _on_toggled(self, on: bool) -> None:
        if self.settings is not None:
            self.settings.setValue(SHOW_KEY, bool(on))
        self._render()


def model_agreement_text(runs_root: Path | None, objectives: list[Any], labels: list[Any],
                         machine_annotators: set[int]) -> str:
    """One line per objective for the agreement dialog: the newest reward model's suggestions vs people's own
    labels (accuracy, Cohen's κ), or "" when there are no suggestions."""
    found = latest_suggestions(runs_root)
    if found is None:
        return ""
    path, suggestions = found
    names = {o.id: o.name for o in objectives}
    rows = model_agreement(suggestions, labels, names, machine_annotators)

    def num(x: float) -> str:
        return "n/a" if x != x else f"{x:.2f}"

    lines = [f"Reward model ({path.parent.name}) vs people, on the pairs it suggested labels for:"]
    for r in rows:
        lines.append(f"  {r.objective}: accuracy {num(r.accuracy)}, Cohen κ {num(r.kappa)} over {r.compared} "
                     f"independent labels; {r.confirmed} suggestion(s) confirmed with the key")
    return "\n".join(lines)
