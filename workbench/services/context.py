"""AppContext: what every panel shares — the open project, the DB thread, the run supervisor, settings.

Panels never talk to each other. A panel that changes data calls `ctx.notify("labels")`; every panel listens to
`data_changed(what)` and decides for itself whether to reload (Anki's "change flags" pattern, STYLE.md). Opening
or closing a project emits `project_changed()`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from workbench.core.entities import Run
from workbench.core.errors import ProjectError
from workbench.services.db_executor import DbExecutor
from workbench.services.run_supervisor import RunSupervisor

RECENT_KEY = "recent_projects"
MAX_RECENT = 8
DATA_KINDS = ("objectives", "pairs", "labels", "annotators", "runs", "models", "evaluations")


def default_settings() -> QSettings:
    """Per-user settings; WORKBENCH_SETTINGS=<file.ini> redirects them (tests, portable installs)."""
    path = os.environ.get("WORKBENCH_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("AlignmentWorkbench", "Alignment Workbench")


def runs_root_for(project_path: str | Path) -> Path:
    """Where a project's run folders live: `<project stem>-runs/` next to the project file."""
    p = Path(project_path)
    return p.with_name(f"{p.stem}-runs")


class AppContext(QObject):
    """Shared state of the GUI process; see the module docstring."""

    project_changed = Signal()
    data_changed = Signal(str)
    inference_changed = Signal()

    def __init__(self, settings: QSettings | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings: QSettings = settings if settings is not None else default_settings()
        self.db = DbExecutor()
        self.project: Any = None  # workbench.store.db.Project | None
        self.supervisor = RunSupervisor(self.db, parent=self)
        self.supervisor.run_state_changed.connect(lambda *_: self.notify("runs"))
        self.supervisor.evaluations_ingested.connect(lambda *_: self.notify("evaluations"))
        # An inference worker client (set by the Models panel once a model is loaded); see InferenceClient.
        self.inference: Any = None

    # --- projects ---------------------------------------------------------------------------------------------
    @property
    def project_path(self) -> Path | None:
        return Path(self.project.path) if self.project is not None else None

    @property
    def runs_root(self) -> Path | None:
        return runs_root_for(self.project.path) if self.project is not None else None

    def open_project(self, path: str | Path) -> None:
        """Open (and migrate) a project on the DB thread, then reconcile runs left over from a previous session."""
        path = Path(path).expanduser().resolve()
        if not path.exists():
            raise ProjectError(f"{path} does not exist: choose another file or create a new project")
        from workbench.store import db as store_db  # SQLAlchemy only once a project is opened: fast start-up

        project = self.db.call_plain_sync(store_db.open_project, path)
        self._set_project(project)
        self.reconcile_runs()

    def new_project(self, path: str | Path) -> None:
        from workbench.store import db as store_db

        path = Path(path).expanduser().resolve()
        project = self.db.call_plain_sync(store_db.create_project, path)
        self._set_project(project)

    def close_project(self) -> None:
        if self.project is None:
            return
        old = self.project
        self.db.set_project(None)
        self.project = None
        self.db.call_plain_sync(old.close)
        self.project_changed.emit()

    def _set_project(self, project: Any) -> None:
        if self.project is not None:
            old = self.project
            self.db.set_project(None)
            self.db.call_plain_sync(old.close)
        self.project = project
        self.db.set_project(project)
        self.supervisor.set_runs_root(runs_root_for(project.path), Path(project.path))
        self.add_recent(str(project.path))
        self.project_changed.emit()

    def reconcile_runs(self) -> None:
        """Re-ingest events written while no GUI was watching; mark runs whose worker died as crashed."""
        from workbench.store.ingest import reconcile_runs

        def is_alive(run: Run) -> bool:
            return self.supervisor.is_alive(run)

        self.db.call_sync(reconcile_runs, is_alive)
        self.notify("runs")

    # --- change notification ---------------------------------------------------------------------------------
    def notify(self, what: str) -> None:
        """Tell every panel that `what` (one of DATA_KINDS) changed."""
        self.data_changed.emit(what)

    def set_inference(self, client: Any) -> None:
        """Publish the loaded inference worker (or None) so steering widgets can enable themselves."""
        self.inference = client
        self.inference_changed.emit()

    # --- recent projects ---------------------------------------------------------------------------------
    def recent_projects(self) -> list[str]:
        value = self.settings.value(RECENT_KEY, [])
        if isinstance(value, str):  # QSettings returns a bare string for a one-element list in INI files
            value = [value]
        return [str(v) for v in (value or [])]

    def add_recent(self, path: str) -> None:
        items = [p for p in self.recent_projects() if p != path]
        items.insert(0, path)
        self.settings.setValue(RECENT_KEY, items[:MAX_RECENT])
        self.settings.sync()

    def remove_recent(self, path: str) -> None:
        self.settings.setValue(RECENT_KEY, [p for p in self.recent_projects() if p != path])
        self.settings.sync()

    # --- shutdown ---------------------------------------------------------------------------------------------
    def shutdown(self, *, stop_runs: bool) -> None:
        """Stop (or detach from) the workers, close the project and end the DB thread."""
        if stop_runs:
            self.supervisor.stop_all(wait_ms=5000)
        else:
            self.supervisor.detach_all()
        if self.inference is not None and hasattr(self.inference, "close"):
            self.inference.close()
        if self.project is not None:
            project = self.project
            self.db.set_project(None)
            self.project = None
            self.db.call_plain_sync(project.close)
        self.db.shutdown()
