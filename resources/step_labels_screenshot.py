"""Screenshot of step labelling (README "Step labels"): a project of multi-step arithmetic solutions, some with an
error at a known step, labelled in the real Label panel's step mode by key presses (split "Step k", G good, E first
error here, PgUp back to the labelled response). The labels the keys made are printed from the store.

Run: xvfb-run -a python resources/step_labels_screenshot.py [OUT_DIR]   (or QT_QPA_PLATFORM=offscreen)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import workbench.ui  # noqa: E402,F401  (PySide6 refcount workaround first)
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

# (problem, steps, reference answer): the second and third solutions go wrong at a known step
PROBLEMS = [
    ("Tom has 3 boxes with 4 apples each. He buys 5 more apples and gives away 2. How many apples does he have?",
     ["Step 1: 3 boxes of 4 apples, so 3 * 4 = 12.", "Step 2: He buys 5 more, so 12 + 5 = 17.",
      "Step 3: He gives away 2, so 17 - 2 = 15.", "Step 4: The answer is 15."], "15"),
    ("A baker makes 6 trays of 8 rolls. She sells 29 rolls and bakes 12 more. How many rolls are there now?",
     ["Step 1: 6 trays of 8 rolls, so 6 * 8 = 48.", "Step 2: She sells 29, so 48 - 29 = 19.",
      "Step 3: She bakes 12 more, so 19 + 12 = 31.", "Step 4: Half of them are packed, so 31 / 2 = 15.",
      "Step 5: The answer is 15."], "31"),
    ("Mia reads 7 pages a day for 5 days, then 9 pages on the sixth day. How many pages did she read?",
     ["Step 1: 7 pages a day for 5 days, so 7 * 5 = 35.", "Step 2: Then 9 more pages, so 35 + 9 = 44.",
      "Step 3: The answer is 44."], "44"),
    ("A farmer has 4 fields of 25 cows. He sells 18 cows and buys 7. How many cows does he have?",
     ["Step 1: 4 fields of 25 cows, so 4 * 25 = 100.", "Step 2: He sells 18, so 100 - 18 = 92.",
      "Step 3: He buys 7, so 92 + 7 = 99.", "Step 4: The answer is 99."], "89"),
]


def settle(app: QApplication, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def build(s) -> None:
    from workbench.store.annotators import get_or_create_annotator
    from workbench.store.objectives import add_objective
    from workbench.store.pairs import add_prompt, add_response
    from workbench.store.step_labels import set_reference_answer

    add_objective(s, "correct", "Every step's arithmetic and reasoning is right")
    get_or_create_annotator(s, "alice")
    for problem, steps, answer in PROBLEMS:
        prompt = add_prompt(s, problem, source="arithmetic")
        set_reference_answer(s, prompt.id, answer)
        add_response(s, prompt.id, "\n".join(steps), model="hand-written")


def stored(s) -> list[tuple[int, int, int | None, bool]]:
    from workbench.store.step_labels import active_step_labels

    return [(lab.response_id, lab.step_index + 1, lab.rating, lab.first_error)
            for lab in active_step_labels(s, rated_only=False)]


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "resources" / "screenshots"
    app = QApplication.instance() or QApplication([])
    from workbench.services.context import AppContext
    from workbench.ui.main_window import MainWindow
    from workbench.ui.theme import apply_theme

    apply_theme(app, "light")
    tmp = Path(tempfile.mkdtemp())
    ctx = AppContext(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    ctx.new_project(tmp / "arithmetic.sqlite")
    ctx.db.call_sync(build)
    window = MainWindow(ctx)
    window.resize(1400, 860)
    window.show()
    panel = window.panel("LabelPanel")
    window.tabs.setCurrentWidget(panel)
    panel.reload()
    settle(app, 1.5)
    panel.kind.setCurrentIndex(panel.kind.findData("steps"))
    panel.order.setCurrentIndex(panel.order.findData("in_order"))
    pane = panel.steps_pane
    pane.set_split("step_k")
    panel.start_session()
    settle(app, 1.0)

    def keys(*presses) -> None:
        for key in presses:
            QTest.keyClick(pane, key)
            settle(app, 0.3)

    keys(Qt.Key.Key_G, Qt.Key.Key_G, Qt.Key.Key_G, Qt.Key.Key_G)  # response 1: every step good -> response 2
    keys(Qt.Key.Key_G, Qt.Key.Key_G, Qt.Key.Key_G, Qt.Key.Key_E)  # response 2: first error at step 4 -> 3
    keys(Qt.Key.Key_PageUp, Qt.Key.Key_Down)  # back to response 2 to see its labels, focus on the step after
    settle(app, 1.0)
    path = out / "step_labels.png"
    window.grab().save(str(path))
    print(path)
    print("labels (response, step, rating, first error):", ctx.db.call_sync(stored))
    window.close()
    ctx.shutdown(stop_runs=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
