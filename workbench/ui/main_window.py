"""MainWindow: the panels in tabs, menus with standard shortcuts, a status bar of running jobs (DESIGN.md §6).

Panels are listed in workbench.ui.panels.PANELS and imported one by one; a panel whose module does not exist yet
is skipped, so the window opens while panels are still being built. Edit ▸ Undo/Redo go to the active panel.
File ▸ Import/Export and files dropped on the window go to the first panel that offers `start_import(paths)` /
`start_export()` (the Project panel).
"""

from __future__ import annotations

import importlib
import logging
import platform
import sqlite3
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QApplication, QDialog, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QStackedWidget, QTabWidget, QTextBrowser, QVBoxLayout, QWidget)

from workbench import APP_NAME, __version__
from workbench.services.context import AppContext
from workbench.services.tradeoffs import SCORERS_FILE
from workbench.ui.dialogs.scorer_trust_dialog import ask_scorer_trust
from workbench.ui.errors import run_task, show_error
from workbench.ui.panels import PANELS
from workbench.ui.theme import SETTINGS_KEY, THEMES, apply_theme
from workbench.ui import window_geometry
from workbench.ui.widgets.welcome_page import WelcomePage

log = logging.getLogger(__name__)
PROJECT_FILTER = "Workbench projects (*.sqlite *.db);;All files (*)"
# Tab titles of panels not built yet (lazy start-up); a built panel's own `title` replaces them.
TITLES = {"ProjectPanel": "Project", "ModelsPanel": "Models", "LabelPanel": "Label", "RunsPanel": "Runs",
          "TradeoffsPanel": "Trade-offs"}
DATASET_SUFFIXES = (".jsonl", ".json", ".csv", ".tsv", ".parquet")


def package_version(name: str) -> str:
    """Installed version of a distribution, read from its metadata (never imports it: torch stays out)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> list[tuple[str, str]]:
    from PySide6 import QtCore, __version__ as pyside_version
    import pyqtgraph

    return [
        (APP_NAME, __version__),
        ("Qt", QtCore.qVersion()),
        ("PySide6", pyside_version),
        ("pyqtgraph", pyqtgraph.__version__),
        ("Python", platform.python_version()),
        ("SQLite", sqlite3.sqlite_version),
        ("PyTorch", package_version("torch")),
        ("Transformers", package_version("transformers")),
        ("PEFT", package_version("peft")),
    ]


class MainWindow(QMainWindow):
    """The application window; see the module docstring."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None, *, lazy: bool = False) -> None:
        """`lazy` (the application): only the first panel is built before the window shows; the others when
        their tab is first shown, when asked for, or one per idle turn of the event loop after the window is up
        (the Runs panel alone imports pyqtgraph for ~1 s; issue #13: the window must appear in under 2 s)."""
        super().__init__(parent)
        self.ctx = ctx
        self.setAcceptDrops(True)
        window_geometry.restore(self, ctx.settings)  # last session's, else a size that fits the screen
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        # The first screen while no project is open (issue #13), the panels once one is.
        self.welcome = WelcomePage(ctx.recent_projects, open_path=self.open_project, new_project=self.new_project_dialog,
                                   open_project=self.open_project_dialog, open_demo=self.open_demo)
        self.pages = QStackedWidget(self)
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.tabs)
        self.setCentralWidget(self.pages)
        self.panels: list[QWidget] = []  # the tab widgets in order: a panel, or a placeholder until it is built
        self._pending: dict[int, tuple[str, str]] = {}  # id(placeholder) -> (module, class) still to build
        self._load_panels(lazy)
        self.tabs.currentChanged.connect(lambda i: self._materialise(self.tabs.widget(i)))
        self._build_menus()
        self.jobs_label = QLabel("")
        self.statusBar().addPermanentWidget(self.jobs_label)
        ctx.project_changed.connect(self._on_project_changed)
        ctx.supervisor.run_state_changed.connect(self._on_run_state)
        self._on_project_changed()

    # --- panels ---------------------------------------------------------------------------------------------
    def _load_panels(self, lazy: bool) -> None:
        """Import and build each panel (see __init__ for `lazy`). A missing module is skipped; a panel that fails to
        build becomes a tab saying so (with the error), so one broken panel never keeps the rest from opening."""
        for i, (module_name, class_name) in enumerate(PANELS):
            if lazy and i > 0:
                placeholder = QWidget()
                self._pending[id(placeholder)] = (module_name, class_name)
                self.panels.append(placeholder)
                self.tabs.addTab(placeholder, TITLES.get(class_name, class_name.removesuffix("Panel")))
                continue
            panel = self._build_panel(module_name, class_name)
            if panel is not None:
                self.panels.append(panel)
                self.tabs.addTab(panel, getattr(panel, "title", class_name))

    def _build_panel(self, module_name: str, class_name: str) -> QWidget | None:
        try:
            module = importlib.import_module(module_name)
            return getattr(module, class_name)(self.ctx, self)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                log.info("panel %s not available in this build", module_name)
                return None
            return self._broken_panel(class_name, exc)
        except Exception as exc:  # noqa: BLE001 - shown in the tab, logged with its traceback
            return self._broken_panel(class_name, exc)

    def _materialise(self, widget: QWidget | None) -> QWidget | None:
        """The real panel for a tab's widget, building it in place of its placeholder the first time."""
        spec = self._pending.pop(id(widget), None) if widget is not None else None
        if spec is None:
            return widget
        index, current = self.tabs.indexOf(widget), self.tabs.currentIndex()
        panel = self._build_panel(*spec)
        self.tabs.blockSignals(True)
        self.tabs.removeTab(index)
        slot = self.panels.index(widget)
        if panel is None:
            del self.panels[slot]
        else:
            self.panels[slot] = panel
            self.tabs.insertTab(index, panel, getattr(panel, "title", spec[1]))
            self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        widget.deleteLater()
        self._update_edit_actions()
        return panel

    def build_pending_panels(self) -> None:
        for widget in list(self.panels):
            self._materialise(widget)

    def _build_next_pending(self) -> None:
        """One placeholder per idle turn, so the panels are ready before they are clicked."""
        widget = next((w for w in self.panels if id(w) in self._pending), None)
        if widget is not None:
            self._materialise(widget)
            QTimer.singleShot(0, self._build_next_pending)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if self._pending:
            QTimer.singleShot(100, self._build_next_pending)

    def _broken_panel(self, class_name: str, exc: BaseException) -> QWidget:
        log.exception("panel %s failed to load", class_name, exc_info=exc)
        label = QLabel(f"This panel could not be loaded: {exc}\nThis is a bug; please report it.")
        label.setObjectName("hint")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.title = class_name.removesuffix("Panel")
        return label

    def panel(self, class_name: str) -> QWidget | None:
        self.build_pending_panels()
        return next((p for p in self.panels if type(p).__name__ == class_name), None)

    def _panel_with(self, method: str) -> QWidget | None:
        self.build_pending_panels()
        return next((p for p in self.panels if callable(getattr(p, method, None))), None)

    # --- menus ----------------------------------------------------------------------------------------------
    def _action(self, menu, text: str, slot, shortcut=None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        menu.addAction(act)
        return act

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        self._action(file, "&New Project…", self.new_project_dialog, QKeySequence.StandardKey.New)
        self._action(file, "&Open Project…", self.open_project_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = file.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file.addSeparator()
        self.import_action = self._action(file, "&Import Dataset…", lambda: self.start_import(None), "Ctrl+I")
        self.export_action = self._action(file, "&Export…", self.start_export, "Ctrl+E")
        self.trust_action = self._action(file, "&Trust Project Scorers…", lambda: self.ask_scorer_trust(True))
        file.addSeparator()
        self.close_project_action = self._action(file, "&Close Project", self.ctx.close_project)
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        edit = bar.addMenu("&Edit")
        self.undo_action = self._action(edit, "&Undo", lambda: self._route("undo"), QKeySequence.StandardKey.Undo)
        self.redo_action = self._action(edit, "&Redo", lambda: self._route("redo"), QKeySequence.StandardKey.Redo)

        view = bar.addMenu("&View")
        for i in range(self.tabs.count()):
            self._action(view, self.tabs.tabText(i), lambda _=False, i=i: self.tabs.setCurrentIndex(i), f"Ctrl+{i + 1}")
        view.addSeparator()
        theme_menu = view.addMenu("&Theme")
        group = QActionGroup(self)
        current = str(self.ctx.settings.value(SETTINGS_KEY, "system"))
        for name in THEMES:
            act = self._action(theme_menu, name.capitalize(), lambda _=False, n=name: self.set_theme(n))
            act.setCheckable(True)
            act.setChecked(name == current)
            group.addAction(act)

        help_ = bar.addMenu("&Help")
        self._action(help_, "&Keyboard Shortcuts", self.show_shortcuts, QKeySequence.StandardKey.HelpContents)
        self._action(help_, f"&About {APP_NAME}", self.show_about)
        self.tabs.currentChanged.connect(lambda _: self._update_edit_actions())

    def _route(self, method: str) -> None:
        panel = self.tabs.currentWidget()
        fn = getattr(panel, method, None)
        if callable(fn):
            fn()

    def _update_edit_actions(self) -> None:
        panel = self.tabs.currentWidget()
        self.undo_action.setEnabled(callable(getattr(panel, "undo", None)))
        self.redo_action.setEnabled(callable(getattr(panel, "redo", None)))

    def set_theme(self, name: str) -> None:
        self.ctx.settings.setValue(SETTINGS_KEY, name)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, name)

    # --- projects -------------------------------------------------------------------------------------------
    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        recent = self.ctx.recent_projects()
        for path in recent:
            act = self.recent_menu.addAction(path)
            act.triggered.connect(lambda _=False, p=path: self.open_project(p))
        if not recent:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def new_project_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "New project", str(Path.home() / "project.sqlite"),
                                              PROJECT_FILTER)
        if path:
            try:
                self.ctx.new_project(path)
            except Exception as exc:  # noqa: BLE001 - shown to the user
                show_error(self, "Could not create the project", exc)

    def open_project_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open project", str(Path.home()), PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str) -> bool:
        try:
            self.ctx.open_project(path)
            self.ask_scorer_trust()  # a received project's code runs only once the user trusts it (issue #12)
            return True
        except Exception as exc:  # noqa: BLE001 - shown to the user
            if not Path(path).exists():
                self.ctx.remove_recent(path)
            show_error(self, "Could not open the project", exc)
            return False

    def ask_scorer_trust(self, say_when_nothing: bool = False) -> None:
        path = self.ctx.project_path
        self.trust_dialog = ask_scorer_trust(self, path, path.with_name(SCORERS_FILE) if path else None,
                                             on_trusted=self.ctx.project_changed.emit,
                                             say_when_nothing=say_when_nothing)

    def open_demo(self) -> None:
        """Open the demo project (created in ~/workbench-demo the first time; services.first_steps)."""
        from workbench.services import first_steps

        async def go() -> None:
            folder = first_steps.demo_folder()
            self.welcome.status.setText(f"Preparing the demo project in {folder}…")
            path = await self.ctx.db.call_plain(first_steps.open_or_create_demo, folder)
            self.welcome.status.setText("")
            self.open_project(str(path))

        run_task(go(), self, "Could not open the demo project")

    def _on_project_changed(self) -> None:
        path = self.ctx.project_path
        self.pages.setCurrentWidget(self.tabs if path is not None else self.welcome)
        if path is None:
            self.welcome.refresh()
        self.setWindowTitle(f"{path.name} — {APP_NAME}" if path else APP_NAME)
        for act in (self.import_action, self.export_action, self.close_project_action, self.trust_action):
            act.setEnabled(path is not None)
        self._update_jobs()
        self._update_edit_actions()

    def _on_run_state(self, run_id: int, status: str) -> None:
        self._update_jobs()

    def _update_jobs(self) -> None:
        sup = self.ctx.supervisor
        kinds = [sup.job_kind(rid) for rid in sup.running_ids()]
        parts = [f"{n} {what}{'s' if n != 1 else ''}" for what, n in
                 (("training job", kinds.count("train")), ("evaluation", kinds.count("eval"))) if n]
        self.jobs_label.setText(" · ".join(parts) + " running" if parts else "No jobs running")

    # --- import / export, drag and drop ----------------------------------------------------------------------
    def start_import(self, paths: list[str] | None) -> None:
        if self.ctx.project is None:
            show_error(self, "Import", "Open or create a project first (File ▸ Open Project or New Project).")
            return
        panel = self._panel_with("start_import")
        if panel is None:
            show_error(self, "Import", "Importing is not available in this build.")
            return
        self.tabs.setCurrentWidget(panel)
        panel.start_import(paths)

    def start_export(self) -> None:
        panel = self._panel_with("start_export")
        if panel is None:
            show_error(self, "Export", "Exporting is not available in this build.")
            return
        self.tabs.setCurrentWidget(panel)
        panel.start_export()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        if _dataset_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        paths = _dataset_paths(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.start_import(paths)

    # --- help -------------------------------------------------------------------------------------------------
    def about_text(self) -> str:
        rows = "".join(f"<tr><td><b>{k}</b></td><td>&nbsp;{v}</td></tr>" for k, v in versions())
        return (f"<h3>{APP_NAME} {__version__}</h3><p>Multi-objective preference alignment (LoRA DPO family) "
                f"on your own workstation.</p><table>{rows}</table>")

    def show_about(self) -> None:
        box = QMessageBox(self)
        box.setWindowTitle(f"About {APP_NAME}")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        box.open()
        self.about_box = box

    def shortcut_rows(self) -> list[tuple[str, str, str]]:
        """(where, key, what) for every shortcut: the menus' and each panel's own."""
        rows: list[tuple[str, str, str]] = []
        self.build_pending_panels()
        for menu in self.menuBar().findChildren(type(self.recent_menu)):
            for act in menu.actions():
                if not act.shortcut().isEmpty():
                    rows.append(("Window", act.shortcut().toString(QKeySequence.SequenceFormat.NativeText),
                                 act.text().replace("&", "").rstrip("…")))
        for panel in self.panels:
            helper = getattr(panel, "shortcut_help", None)
            for key, text in (helper() if callable(helper) else []):
                rows.append((getattr(panel, "title", ""), key, text))
        return rows

    def show_shortcuts(self) -> None:
        dlg = QDialog(self)
        dlg.setWindowTitle("Keyboard shortcuts")
        view = QTextBrowser(dlg)
        body = "".join(f"<tr><td>{w}</td><td><b>{k}</b></td><td>{t}</td></tr>" for w, k, t in self.shortcut_rows())
        view.setHtml(f"<table cellpadding='4'><tr><th>Where</th><th>Key</th><th>Action</th></tr>{body}</table>")
        lay = QVBoxLayout(dlg)
        lay.addWidget(view)
        dlg.resize(520, 560)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dlg.open()
        self.shortcuts_dialog = dlg

    # --- closing ----------------------------------------------------------------------------------------------
    def confirm_stop_jobs(self, n: int) -> bool:
        """Ask whether to stop `n` running jobs; False keeps the window open. (Tests replace this method.)"""
        answer = QMessageBox.question(
            self, "Training jobs are running",
            f"{n} job{'s are' if n != 1 else ' is'} still running. Quit and stop {'them' if n != 1 else 'it'}? "
            "A stopped training run saves a checkpoint and can be resumed from the Runs panel.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt override
        running = self.ctx.supervisor.running_ids()
        if running and not self.confirm_stop_jobs(len(running)):
            event.ignore()
            return
        window_geometry.save(self, self.ctx.settings)
        for panel in self.panels:
            close = getattr(panel, "shutdown", None)
            if callable(close):
                close()
        self.ctx.shutdown(stop_runs=True)
        event.accept()


def _dataset_paths(mime) -> list[str]:
    if not mime.hasUrls():
        return []
    paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()]
    return [p for p in paths if Path(p).suffix.lower() in DATASET_SUFFIXES]

