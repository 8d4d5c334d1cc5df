"""Screenshots of a real rounds project (README "Rounds"), offscreen, on a copy of the project:

- default: the Trade-offs plot with the rounds path (brevity score against detail score) and the Rounds panel's
  per-round table (rounds_path.png, rounds_panel.png), of the three-round recipe's project;
- --label: a round's Label step (round_label.png): the Label panel's round mode on round 1 of a mix round, its banner
  and a pair whose brevity row the scorers already labelled (given, not asked) while detail waits for the person,
  labelled by key presses up to that pair.

    python resources/rounds/make_project.py mix --labeller mix --mix-confidence 5
    workbench round mix/rounds.sqlite --config mix/loop.toml --rounds 1 --trust-scorers   # generate + label

Run: QT_QPA_PLATFORM=offscreen python resources/rounds/screenshot.py PROJECT.sqlite [OUT_DIR] [--label]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import workbench.ui  # noqa: E402,F401  (PySide6 refcount workaround first)
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def path_and_panel(app: QApplication, window, out: Path) -> list[Path]:
    trade = window.panel("TradeoffsPanel")
    window.tabs.setCurrentWidget(trade)
    axes = trade.table.axes
    trade.x_combo.setCurrentIndex(axes.index("brevity · score"))
    trade.y_combo.setCurrentIndex(axes.index("detail · score"))
    settle(app, 1.5)
    trade.plot.getPlotItem().enableAutoRange()
    settle(app, 0.5)
    window.grab().save(str(out / "rounds_path.png"))
    window.tabs.setCurrentWidget(window.panel("RoundsPanel"))
    settle(app, 1.0)
    window.grab().save(str(out / "rounds_panel.png"))
    return [out / "rounds_path.png", out / "rounds_panel.png"]


def label_step(app: QApplication, window, out: Path) -> list[Path]:
    from workbench.store.annotators import get_or_create_annotator

    window.ctx.db.call_sync(get_or_create_annotator, "alice")
    panel = window.panel("LabelPanel")
    window.tabs.setCurrentWidget(panel)
    panel.reload()
    settle(app, 1.5)
    panel.label_round(1)
    settle(app, 1.5)
    labelled = 0
    while labelled < 15:  # label (key 1 on every asked row) until a pair with a given row follows two labelled ones
        screen = panel.session.current
        if screen is None or (labelled >= 2 and screen.given):
            break
        while panel.session.current is screen:
            QTest.keyClick(panel.rows, Qt.Key.Key_1)
            settle(app, 0.4)
        labelled += 1
    settle(app, 1.0)
    window.grab().save(str(out / "round_label.png"))
    s = panel.session.current
    print(panel.round_mode.banner.text.text(), "| given:",
          {row: (g.annotator, g.choice) for row, g in (s.given.items() if s else [])})
    return [out / "round_label.png"]


def main(argv: list[str]) -> int:
    label = "--label" in argv
    argv = [a for a in argv if a != "--label"]
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "resources" / "screenshots"
    app = QApplication.instance() or QApplication([])
    from workbench.services.context import AppContext
    from workbench.ui.main_window import MainWindow
    from workbench.ui.theme import apply_theme

    apply_theme(app, "light")
    tmp = Path(tempfile.mkdtemp())
    project = tmp / Path(argv[0]).name  # a copy: the screenshot never touches the real project
    shutil.copyfile(argv[0], project)
    ctx = AppContext(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window = MainWindow(ctx)
    window.resize(1400, 860)
    window.show()
    ctx.open_project(project)
    settle(app, 2.0)
    print(*(label_step if label else path_and_panel)(app, window, out))
    window.close()
    ctx.shutdown(stop_runs=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
