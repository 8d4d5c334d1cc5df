"""The panels of the main window, in tab order (Ctrl+1..5 follow this order).

Each entry is (module path, class name). MainWindow imports them one by one and skips a module that is missing,
so the window still opens while a panel is being built. Each panel is a QWidget with `__init__(ctx, parent=None)`,
a class attribute `title`, optional `undo()`/`redo()`, and `shortcut_help() -> list[tuple[str, str]]`.
"""

from __future__ import annotations

PANELS: list[tuple[str, str]] = [
    ("workbench.ui.panels.project_panel", "ProjectPanel"),
    ("workbench.ui.panels.models_panel", "ModelsPanel"),
    ("workbench.ui.panels.label_panel", "LabelPanel"),
    ("workbench.ui.panels.runs_panel", "RunsPanel"),
    ("workbench.ui.panels.tradeoffs_panel", "TradeoffsPanel"),
    ("workbench.ui.panels.rounds_panel", "RoundsPanel"),
]
