"""Per-objective source pickers of the New Run dialog: where MODPO's margins come from, which earlier adapter is
each objective's ingredient of a soup, and which scorer rates an objective at evaluation time.

A source is an adapter folder of an earlier run (a checkpoint: its implicit reward β·log π/π_ref, Zhou et al.,
"Beyond One-Preference-Fits-All: MODPO", 2023, §4) or a scorer (workbench.core.scorers: built-ins and the project's
scorers.py). One row per objective, one combo per row; the combo's item data is "adapter:<path>" or
"scorer:<name>" (a string: Qt compares strings in findData, not Python tuples), or None for "nothing chosen".
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

Source = tuple[str, str]  # ("adapter", folder) | ("scorer", name)


@dataclass(frozen=True)
class AdapterChoice:
    """A checkpoint of an earlier run that can serve as an adapter: label for people, folder for the worker."""

    label: str
    path: str
    objectives: tuple[str, ...]  # what the run trained on (used to pre-select the obvious adapter)
    run_id: int = 0
    step: int = 0


def preferred_adapter(adapters: list[AdapterChoice], objective: str) -> AdapterChoice | None:
    """The latest checkpoint of the newest run trained on `objective` alone (the natural soup ingredient or MODPO
    margin model for it), else None."""
    alone = [a for a in adapters if a.objectives == (objective,)]
    return max(alone, key=lambda a: (a.run_id, a.step)) if alone else None


class SourceTable(QTableWidget):
    """Rows of (objective, source combo). `kinds` says which sources a row offers: "adapter", "scorer" or both."""

    changed = Signal()

    def __init__(self, header: str, none_text: str, kinds: tuple[str, ...], parent: QWidget | None = None) -> None:
        super().__init__(0, 2, parent)
        self.none_text = none_text
        self.kinds = kinds
        self.setHorizontalHeaderLabels(["Objective", header])
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.verticalHeader().hide()
        self.combos: dict[str, QComboBox] = {}
        self.adapters: list[AdapterChoice] = []
        self.scorers: list[str] = []

    def set_choices(self, adapters: list[AdapterChoice], scorers: list[str]) -> None:
        self.adapters, self.scorers = list(adapters), list(scorers)
        current = self.sources()
        self.set_objectives(list(self.combos), current)

    def set_objectives(self, objectives: list[str], chosen: dict[str, Source] | None = None) -> None:
        """One row per objective; `chosen` pre-selects sources (kept when they are still offered)."""
        chosen = dict(chosen or {})
        for old in self.combos.values():
            old.hide()  # removeCellWidget deletes it later; until then it must not be painted
        for row in range(self.rowCount()):
            self.removeCellWidget(row, 1)
        self.setRowCount(0)
        self.setRowCount(len(objectives))
        self.combos = {}
        for row, name in enumerate(objectives):
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.setItem(row, 0, item)
            combo = self._combo()
            want = _key(chosen[name]) if name in chosen else None
            index = combo.findData(want) if want is not None else 0
            if want is not None and index < 0:  # a folder typed elsewhere (clone of an old run): keep it
                combo.addItem(want.replace(":", ": ", 1), want)
                index = combo.count() - 1
            combo.setCurrentIndex(max(0, index))
            combo.currentIndexChanged.connect(lambda _=0: self.changed.emit())
            self.setCellWidget(row, 1, combo)
            self.combos[name] = combo
        self.changed.emit()

    def _combo(self) -> QComboBox:
        combo = QComboBox()
        combo.addItem(self.none_text, None)
        if "adapter" in self.kinds:
            for a in self.adapters:
                combo.addItem(f"adapter: {a.label}", _key(("adapter", a.path)))
                combo.setItemData(combo.count() - 1, a.path, Qt.ItemDataRole.ToolTipRole)
        if "scorer" in self.kinds:
            for name in self.scorers:
                combo.addItem(f"scorer: {name}", _key(("scorer", name)))
        return combo

    def choose(self, objective: str, source: Source | None) -> None:
        """Select `source` (None: nothing) in the row of `objective`; ValueError if the row does not offer it."""
        combo = self.combos[objective]
        index = combo.findData(_key(source)) if source is not None else 0
        if index < 0:
            raise ValueError(f"{source} is not offered for {objective}")
        combo.setCurrentIndex(index)

    def sources(self) -> dict[str, Source]:
        """Objective -> chosen source, for rows where something is chosen."""
        out: dict[str, Source] = {}
        for name, combo in self.combos.items():
            data = combo.currentData()
            if data:
                kind, _, value = str(data).partition(":")
                out[name] = (kind, value)
        return out

    def of_kind(self, kind: str) -> dict[str, str]:
        return {name: value for name, (k, value) in self.sources().items() if k == kind}


def _key(source: Source) -> str:
    return f"{source[0]}:{source[1]}"
