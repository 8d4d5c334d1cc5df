"""The GUI's composition root: QApplication + qasync loop, theme, services, main window (DESIGN.md §1, §6).

The GUI process never imports torch (import-linter checks the code; tests/ui/test_main_window.py checks the running
process): torch alone takes seconds to import, and an OOM or CUDA fault in a worker can then never take the window
down. SQLAlchemy is imported only when a project is opened.

WORKBENCH_EXIT_AFTER_SHOW=1 makes the app print one JSON line ({"shown_s": seconds from the start of `main` to the
window being shown, "torch_imported": bool, "panels": [...]}) and quit right after the window appears: the start-up
test and the installers' smoke test use it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
from pathlib import Path

from workbench import APP_NAME, __version__

EXIT_AFTER_SHOW = "WORKBENCH_EXIT_AFTER_SHOW"


def freeze_startup_heap() -> None:
    """Move every object alive after start-up out of the cyclic GC's reach (gc.freeze, Python >= 3.7).

    A full (generation 2) collection walks every tracked object: with Qt, pyqtgraph and numpy loaded that is a
    40-50 ms pause, which shows up as a stutter while a run streams metrics. Start-up objects live as long as the
    process, so scanning them again and again buys nothing (the technique Instagram described for its servers,
    "Dismissing Python Garbage Collection at Instagram", 2017). Later garbage is still collected.
    """
    gc.collect()
    gc.freeze()


def _initial_project(ctx, argv: list[str]) -> str | None:
    """The project to open: the one named on the command line, else the most recent one that still exists."""
    if argv:
        return argv[0]
    return next((p for p in ctx.recent_projects() if Path(p).exists()), None)


def start_live_run(ctx, run_id: int, evaluate_weights: list[dict[str, float]] | None) -> None:
    """`workbench demo` without --headless: start a prepared run in the window's supervisor (live plots), and once
    it finishes evaluate its last checkpoint at each mixture in `evaluate_weights` (the Trade-offs panel shows
    them as they are stored)."""
    from workbench.store.runs import get_run, list_checkpoints

    def on_state(rid: int, status: str) -> None:
        if rid != run_id or status not in ("finished", "stopped", "failed", "crashed"):
            return
        ctx.supervisor.run_state_changed.disconnect(on_state)
        checkpoints = ctx.db.call_sync(list_checkpoints, run_id)
        if status == "finished" and evaluate_weights and checkpoints:
            ctx.supervisor.start_eval(ctx.db.call_sync(get_run, run_id), checkpoints[-1].path, evaluate_weights)

    ctx.supervisor.run_state_changed.connect(on_state)
    ctx.supervisor.start(ctx.db.call_sync(get_run, run_id))


def main(argv: list[str] | None = None, *, start_run: int | None = None,
         evaluate_weights: list[dict[str, float]] | None = None) -> int:
    """Open the main window (optionally on a project) and run the event loop until it closes.

    `start_run` (used by `workbench demo`): a run of that project, prepared but not started, that the window
    starts live once the project is open; `evaluate_weights`: mixtures to evaluate when it has finished."""
    t0 = time.perf_counter()
    argv = list(sys.argv[1:] if argv is None else argv)
    from PySide6.QtCore import QTimer, Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication
    import qasync

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "workbench"])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("AlignmentWorkbench")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("alignment-workbench")

    from workbench.services.context import AppContext
    from workbench.ui.main_window import MainWindow
    from workbench.ui.theme import SETTINGS_KEY, apply_theme, app_icon, follow_system_scheme

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    ctx = AppContext()
    apply_theme(app, str(ctx.settings.value(SETTINGS_KEY, "system")))
    follow_system_scheme(app, lambda: str(ctx.settings.value(SETTINGS_KEY, "system")))
    app.setWindowIcon(app_icon())
    window = MainWindow(ctx, lazy=True)
    window.show()
    freeze_startup_heap()
    path = _initial_project(ctx, argv)
    if path:
        def open_initial() -> None:
            if window.open_project(path) and start_run is not None:
                start_live_run(ctx, start_run, evaluate_weights)

        QTimer.singleShot(0, open_initial)
    if os.environ.get(EXIT_AFTER_SHOW):
        def report() -> None:
            info = {"shown_s": round(time.perf_counter() - t0, 3), "torch_imported": "torch" in sys.modules,
                    "panels": [window.tabs.tabText(i) for i in range(window.tabs.count())]}
            print(json.dumps(info), flush=True)
            window.close()

        QTimer.singleShot(0, report)

    done = asyncio.Event()
    app.aboutToQuit.connect(done.set)
    app.lastWindowClosed.connect(app.quit)
    with loop:
        loop.run_until_complete(done.wait())
    return 0
