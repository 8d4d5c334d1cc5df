"""Screenshots of a real rounds project (README "Rounds"): the Trade-offs plot with the rounds path (brevity score
against detail score) and the Rounds panel's per-round table. Offscreen; the project is opened as it is.

Run: QT_QPA_PLATFORM=offscreen python resources/rounds/screenshot.py PROJECT.sqlite [OUT_DIR]
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
from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402


def settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main(argv: list[str]) -> int:
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
    print(out / "rounds_path.png", out / "rounds_panel.png")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
