"""Fixtures shared by the GUI tests: isolated settings, an AppContext, a project on disk, the main window."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings

from workbench.services.context import AppContext


@pytest.fixture
def settings(tmp_path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def ctx(qapp, settings):
    context = AppContext(settings=settings)
    yield context
    context.shutdown(stop_runs=True)


@pytest.fixture
def project_ctx(ctx, tmp_path):
    ctx.new_project(tmp_path / "project.sqlite")
    return ctx


@pytest.fixture
def window(qtbot, ctx):
    from workbench.ui.main_window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    return win
