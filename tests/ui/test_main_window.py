"""Main window: panels, menus and shortcuts, recent projects, About, and a cold start without torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from importlib import metadata

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence
from PySide6.QtWidgets import QWidget

from workbench.ui.main_window import MainWindow, versions
from workbench.ui.panels import PANELS


def actions(win: MainWindow) -> dict[str, object]:
    out = {}
    for menu in win.menuBar().findChildren(type(win.recent_menu)):
        for act in menu.actions():
            out[act.text().replace("&", "")] = act
    return out


def test_panels_present_in_order(window):
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert "Runs" in titles and "Trade-offs" in titles
    expected = [cls for _, cls in PANELS if any(type(p).__name__ == cls for p in window.panels)]
    assert [type(p).__name__ for p in window.panels] == expected  # PANELS order, missing ones skipped


def test_the_window_fits_a_1366_by_768_laptop_screen(qtbot, project_ctx):
    """No panel may make the window wider or taller than a common laptop screen (1366 x 768, less the title bar and
    taskbar): the Label panel's one-row bar once forced a minimum width of 1,527 px, cutting its right side off."""
    win = MainWindow(project_ctx)
    qtbot.addWidget(win)
    win.show()
    for i in range(win.tabs.count()):
        win.tabs.setCurrentIndex(i)
    qtbot.wait(200)
    wide = {type(win.tabs.widget(i)).__name__: win.tabs.widget(i).minimumSizeHint().width()
            for i in range(win.tabs.count())}
    assert max(wide.values()) <= 1300, wide
    assert win.minimumSizeHint().width() <= 1340 and win.minimumSizeHint().height() <= 680, win.minimumSizeHint()


def test_menus_have_standard_shortcuts(window):
    acts = actions(window)
    assert acts["Open Project…"].shortcut() == QKeySequence(QKeySequence.StandardKey.Open)
    assert acts["New Project…"].shortcut() == QKeySequence(QKeySequence.StandardKey.New)
    assert acts["Undo"].shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert acts["Quit"].shortcut() == QKeySequence(QKeySequence.StandardKey.Quit)
    assert acts["Import Dataset…"].shortcut().toString() == "Ctrl+I"
    runs_index = next(i for i in range(window.tabs.count()) if window.tabs.tabText(i) == "Runs")
    view_action = acts["Runs"]
    assert view_action.shortcut().toString() == f"Ctrl+{runs_index + 1}"
    view_action.trigger()
    assert window.tabs.currentIndex() == runs_index
    assert not acts["Import Dataset…"].isEnabled()  # no project open


def test_undo_is_routed_to_the_active_panel(window):
    calls = []
    window.panels[0].undo = lambda: calls.append("undo")
    window.tabs.setCurrentIndex(1)
    assert not actions(window)["Undo"].isEnabled()  # the second panel has no undo
    window.tabs.setCurrentIndex(0)
    actions(window)["Undo"].trigger()
    assert calls == ["undo"]


def test_recent_projects_are_remembered_in_settings(window, ctx, tmp_path):
    for name in ("a", "b", "a"):
        ctx.add_recent(str(tmp_path / f"{name}.sqlite"))
    assert ctx.recent_projects() == [str(tmp_path / "a.sqlite"), str(tmp_path / "b.sqlite")]
    ctx.settings.sync()
    assert "a.sqlite" in (tmp_path / "settings.ini").read_text()
    window._fill_recent()
    assert [a.text() for a in window.recent_menu.actions()] == ctx.recent_projects()


def test_opening_a_missing_project_shows_an_error_and_forgets_it(window, ctx, tmp_path):
    from workbench.ui import errors

    missing = str(tmp_path / "gone.sqlite")
    ctx.add_recent(missing)
    before = len(errors.shown_errors())
    assert window.open_project(missing) is False
    title, text, _ = errors.shown_errors()[before]
    assert "does not exist" in text and "choose another file" in text
    assert missing not in ctx.recent_projects()


def test_dropping_a_dataset_routes_to_import(window, ctx, tmp_path):
    got = []
    window.start_import = lambda paths: got.append(paths)
    mime = QMimeData()
    data = tmp_path / "prefs.jsonl"
    data.write_text("{}\n")
    mime.setUrls([QUrl.fromLocalFile(str(data)), QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    event = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert got == [[str(data)]]


def test_about_lists_versions_without_importing_torch(window):
    text = window.about_text()
    names = dict(versions())
    for key in ("Qt", "PySide6", "Python", "SQLite", "PyTorch"):
        assert key in text and names[key] in text
    assert names["PyTorch"] == metadata.version("torch")


def test_shortcut_help_lists_menus_and_panels(window):
    rows = window.shortcut_rows()
    keys = {(w, k) for w, k, _ in rows}
    assert ("Window", QKeySequence(QKeySequence.StandardKey.Open).toString(QKeySequence.SequenceFormat.NativeText)) in keys
    assert any(w == "Runs" and k == "Ctrl+R" for w, k, _ in rows)


def test_cold_start_shows_the_window_without_torch(tmp_path):
    """`python -m workbench` in a fresh process: the window appears, torch is never imported; prints the time."""
    env = dict(os.environ, WORKBENCH_EXIT_AFTER_SHOW="1", QT_QPA_PLATFORM="offscreen",
               WORKBENCH_SETTINGS=str(tmp_path / "s.ini"))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "workbench"], env=env, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"cold start: window shown after {info['shown_s']:.2f} s in main(), {wall:.2f} s process wall time")
    assert info["torch_imported"] is False
    assert "Runs" in info["panels"] and "Trade-offs" in info["panels"]
    # The target is < 2 s (tests/benchmarks prints it); this bound only catches a heavy import sneaking in
    # (torch alone takes several seconds) on a loaded 2-core CI machine.
    assert info["shown_s"] < 6.0


def _start_fake(ctx, tmp_path, mode: str):
    from pathlib import Path

    from workbench.core.entities import Run

    fake = Path(__file__).with_name("fake_worker.py")
    ctx.supervisor.command = lambda run_dir: (sys.executable, [str(fake), "--run-dir", str(run_dir)])
    run_dir = tmp_path / "run-1"
    run_dir.mkdir()
    (run_dir / "fake.json").write_text(json.dumps({"run": "1", "mode": mode}))
    run = Run(1, "r", {}, "running", str(run_dir))
    ctx.supervisor.start(run)
    return run


def test_closing_with_running_jobs_asks_and_cancel_keeps_them(qtbot, window, ctx, tmp_path):
    _start_fake(ctx, tmp_path, "wait")
    qtbot.waitUntil(lambda: ctx.supervisor.is_running(1), timeout=10_000)
    assert window.jobs_label.text() == "1 training job running"
    asked = []
    window.confirm_stop_jobs = lambda n: asked.append(n) or False
    assert window.close() is False  # cancelled: the window stays, the job runs on
    assert asked == [1] and ctx.supervisor.is_running(1)
    window.confirm_stop_jobs = lambda n: True
    assert window.close() is True
    assert not ctx.supervisor.running_ids()
    assert (tmp_path / "run-1" / "got_stop").exists()  # stopped cooperatively: it could save a checkpoint


def test_reconcile_on_open_uses_the_supervisors_liveness(qtbot, ctx, tmp_path, monkeypatch):
    import types

    from workbench.core.entities import Run

    seen = {}

    def reconcile_runs(s, is_alive):
        runs = [Run(1, "alive", {}, "running", str(tmp_path / "a")), Run(2, "dead", {}, "running",
                                                                         str(tmp_path / "b"))]
        seen.update({r.name: is_alive(r) for r in runs})

    monkeypatch.setitem(sys.modules, "workbench.store.ingest", types.SimpleNamespace(reconcile_runs=reconcile_runs))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "worker"])
    try:
        (tmp_path / "a" / "worker.pid").write_text(str(child.pid))
        (tmp_path / "b" / "worker.pid").write_text("999999999")

        class P:
            def session(self):
                from contextlib import nullcontext

                return nullcontext(None)

        ctx.db.set_project(P())
        changed = []
        ctx.data_changed.connect(changed.append)
        ctx.reconcile_runs()
    finally:
        child.kill()
        child.wait()
        ctx.db.set_project(None)
    assert seen == {"alive": True, "dead": False}
    assert changed == ["runs"]


def test_a_panel_that_fails_to_build_becomes_a_tab_saying_so(qtbot, ctx, monkeypatch):
    import workbench.ui.main_window as mw

    monkeypatch.setattr(mw, "PANELS", [("workbench.ui.panels.runs_panel", "RunsPanel"),
                                       ("workbench.ui.panels.no_such_panel", "NoSuchPanel"),
                                       ("workbench.ui.widgets.steering", "normalised")])  # not a panel: raises
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    assert [win.tabs.tabText(i) for i in range(win.tabs.count())] == ["Runs", "normalised"]
    assert "could not be loaded" in win.tabs.widget(1).text()


def test_project_lifecycle_with_the_store(qtbot, window, ctx, tmp_path):
    """New -> close -> open through the real store: title, recent list, menus, and every panel reloading."""
    path = tmp_path / "lab.sqlite"
    ctx.new_project(path)
    assert window.windowTitle().startswith("lab.sqlite")
    assert window.import_action.isEnabled()
    runs = window.panel("RunsPanel")
    assert runs.model.rowCount() == 0 and runs.new_action.isEnabled()
    ctx.close_project()
    assert window.windowTitle() == "Alignment Workbench" and not window.import_action.isEnabled()
    assert window.open_project(str(path)) is True  # migrations + reconcile_runs run on open
    assert ctx.project_path == path.resolve()
    assert ctx.recent_projects()[0] == str(path.resolve())
    assert ctx.runs_root == path.resolve().with_name("lab-runs")


def test_theme_follows_the_system_scheme_while_set_to_system(qapp):
    from PySide6.QtGui import QGuiApplication

    from workbench.ui.theme import follow_system_scheme, is_dark, set_dark

    choice = {"theme": "system"}
    slot = follow_system_scheme(qapp, lambda: choice["theme"])
    hints = QGuiApplication.styleHints()
    try:
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # what Qt emits when the OS switches
        assert is_dark()
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
        assert not is_dark()
        choice["theme"] = "light"  # a theme picked in View ▸ Theme wins over the system
        hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
        assert not is_dark()
    finally:
        hints.colorSchemeChanged.disconnect(slot)
        set_dark(qapp, False)


def test_lazy_window_builds_panels_when_needed(qtbot, ctx, tmp_path):
    """Issue #13: the application builds only the first panel before the window shows; a tab builds its panel when
    first shown, `panel()` builds on demand, and idle turns build the rest."""
    ctx.new_project(tmp_path / "p.sqlite")
    win = MainWindow(ctx, lazy=True)
    qtbot.addWidget(win)
    built = lambda: [type(p).__name__ for p in win.panels if not type(p) is QWidget]  # noqa: E731
    titles = [win.tabs.tabText(i) for i in range(win.tabs.count())]
    assert titles == ["Project", "Models", "Label", "Runs", "Trade-offs", "Rounds"]
    assert built() == ["ProjectPanel"]
    win.tabs.setCurrentIndex(2)
    assert built() == ["ProjectPanel", "LabelPanel"]
    assert type(win.tabs.currentWidget()).__name__ == "LabelPanel" and win.tabs.currentIndex() == 2
    win.show()
    qtbot.waitUntil(lambda: len(built()) == 6, timeout=10_000)
    assert [win.tabs.tabText(i) for i in range(win.tabs.count())] == titles
    assert win.panel("RunsPanel") is win.tabs.widget(3)


def test_the_first_size_fits_the_screen_and_the_last_geometry_comes_back(qtbot, ctx):
    """Found under Xvfb at 1366 x 768: the window opened 820 px tall, its status bar below the screen's edge. The
    first size now fits the screen's available area; after that the window opens as it was closed."""
    from PySide6.QtCore import QRect, QSize

    from workbench.ui.window_geometry import first_size

    assert first_size(QRect(0, 0, 1366, 728)) == QSize(1280, 668)  # a laptop less its taskbar
    assert first_size(QRect(0, 0, 1920, 1040)) == QSize(1280, 820)
    assert first_size(QRect(0, 0, 800, 500)) == QSize(760, 480)
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    available = win.screen().availableGeometry()
    assert win.width() <= available.width() and win.height() <= available.height()
    win.resize(700, 500)  # the offscreen platform's screen is 800 x 600
    win.close()
    again = MainWindow(ctx)
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (700, 500)
