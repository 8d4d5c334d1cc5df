"""The GUI asks every time a model that wants to run its own code is loaded, naming the repository (issue #12)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QMessageBox

from tests.ui.test_models_panel import fake_client, model_dir, panel  # noqa: F401 - fixtures
from workbench.core.remote_code import CONSENT_ENV
from workbench.ui.dialogs import remote_code_dialog
from workbench.ui.dialogs.remote_code_dialog import ask_remote_code


@pytest.fixture
def answers(qapp, monkeypatch):
    """Record each question and answer it from a queue instead of blocking on a modal box."""
    asked: list[str] = []
    queue: list[QMessageBox.StandardButton] = []

    def exec_(box: QMessageBox) -> int:
        asked.append(box.text())
        return queue.pop(0)

    monkeypatch.setattr(remote_code_dialog.QMessageBox, "exec", exec_)
    return asked, queue


def test_no_request_asks_nothing(answers):
    asked, _ = answers
    assert ask_remote_code(None, {"model": "org/m", "trust_remote_code": False}) is False
    assert asked == []


def test_question_names_the_repository_and_no_means_cancel(answers):
    asked, queue = answers
    queue += [QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes]
    assert ask_remote_code(None, {"model": "org/strange-model", "trust_remote_code": True}) is None
    assert ask_remote_code(None, {"model": "org/strange-model", "trust_remote_code": True}) is True
    assert len(asked) == 2 and all("org/strange-model" in q for q in asked)  # asked again: never remembered


def test_models_panel_asks_each_load_and_passes_consent_only_when_given(qtbot, panel, project_ctx, answers):  # noqa: F811
    from workbench.store.models import list_models
    from workbench.store.schema import ModelRow

    asked, queue = answers

    def set_flag(s):
        s.get(ModelRow, list_models(s)[0].id).trust_remote_code = True  # as a received project could have it

    project_ctx.db.call_sync(set_flag)
    panel.reload()
    qtbot.waitUntil(lambda: panel.list.count() == 1 and panel.models[0].trust_remote_code, timeout=5000)
    panel.list.setCurrentRow(0)
    queue.append(QMessageBox.StandardButton.No)
    panel.load_selected()
    assert panel.client is None and "Not loaded" in panel.status.text()
    queue.append(QMessageBox.StandardButton.Yes)
    panel.load_selected()
    env = panel.client.process.processEnvironment()
    assert json.loads(env.value(CONSENT_ENV)) == [panel.models[0].location]
    assert len(asked) == 2
