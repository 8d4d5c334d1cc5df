"""Screenshot of a round's Label step (README "Rounds"): the Label panel's round mode on a real mix round, its
banner ("Round 1: k of m pairs labelled", the order in words) and a pair whose brevity row the scorers already
labelled (given, not asked) while detail waits for the person. Driven by key presses on a copy of the project.

    python resources/rounds/make_project.py mix --labeller mix --mix-confidence 5
    workbench round mix/rounds.sqlite --config mix/loop.toml --rounds 1 --trust-scorers   # generate + label
    QT_QPA_PLATFORM=offscreen python resources/rounds/label_screenshot.py mix/rounds.sqlite [OUT_DIR]
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


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else ROOT / "resources" / "screenshots"
    app = QApplication.instance() or QApplication([])
    from workbench.services.context import AppContext
    from workbench.store.annotators import get_or_create_annotator
    from workbench.ui.main_window import MainWindow
    from workbench.ui.theme import apply_theme

    apply_theme(app, "light")
    tmp = Path(tempfile.mkdtemp())
    project = tmp / Path(argv[0]).name  # a copy: the screenshot never touches the real project
    shutil.copyfile(argv[0], project)
    ctx = AppContext(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    ctx.open_project(project)
    ctx.db.call_sync(get_or_create_annotator, "alice")
    window = MainWindow(ctx)
    window.resize(1400, 860)
    window.show()
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
    path = out / "round_label.png"
    window.grab().save(str(path))
    s = panel.session.current
    print(path, "|", panel.round_mode.banner.text.text(), "|",
          {row: (g.annotator, g.choice) for row, g in (s.given.items() if s else [])})
    window.close()
    ctx.shutdown(stop_runs=True)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
