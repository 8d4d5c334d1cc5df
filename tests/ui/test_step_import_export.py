"""Step-labelled files in the GUI (issue #17): the import dialog detects them and stores them through the same call
as `workbench import` (all or nothing; counts and line-numbered errors in the panel's log); File > Export writes an
objective's step labels in a chosen step format."""

from __future__ import annotations

import json

import pytest

from tests.formats.test_step_formats import SHEPHERD_ROW, TRL_ROW, prm800k_row
from workbench.ui.dialogs.import_dialog import ImportDialog, format_names
from workbench.ui.panels.project_panel import ProjectPanel


@pytest.fixture
def panel(qtbot, project_ctx):
    p = ProjectPanel(project_ctx)
    qtbot.addWidget(p)
    return p


def _write(path, rows) -> str:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_step_files_are_detected_imported_and_counted(qtbot, panel, project_ctx, tmp_path):
    from workbench.store.step_records import export_stepwise

    assert {"trl-stepwise", "prm800k", "math-shepherd", "processbench"} <= set(format_names())
    files = [_write(tmp_path / "trl.jsonl", [TRL_ROW, {**TRL_ROW, "prompt": "Another?", "labels": [True, False]}]),
             _write(tmp_path / "prm.jsonl", [prm800k_row()]), _write(tmp_path / "ms.jsonl", [SHEPHERD_ROW])]
    dlg = ImportDialog(files, ["correctness"])
    qtbot.addWidget(dlg)
    assert [fmt for _p, fmt, _o in dlg.choices()] == ["trl-stepwise", "prm800k", "math-shepherd"]
    panel.run_import(dlg.choices())
    panel.run_import(dlg.choices()[:1])  # again: nothing new
    qtbot.waitUntil(lambda: len(panel.outcomes) == 4, timeout=20000)
    counts = [(o.solutions, o.step_labels, o.known_solutions, o.errors) for o in panel.outcomes]
    assert counts == [(2, 4, 0, []), (1, 3, 0, []), (1, 2, 0, []), (0, 0, 2, [])]
    texts = [panel.log.item(i).text() for i in range(panel.log.count())]
    assert "trl.jsonl: 2 step-labelled solutions, 4 step labels" in texts
    assert "trl.jsonl: 0 step-labelled solutions, 0 step labels, 2 already in the project" in texts
    records = project_ctx.db.call_sync(export_stepwise, "correctness")
    assert [r.ratings for r in records] == [(1, 1), (1, -1), (0, 1, -1), (1, -1)]


def test_a_bad_step_file_stores_nothing_and_names_the_line(qtbot, panel, project_ctx, tmp_path):
    from workbench.store.step_labels import step_counts

    path = _write(tmp_path / "bad.jsonl", [TRL_ROW, TRL_ROW, {**TRL_ROW, "labels": ["maybe", True]}])
    dlg = ImportDialog([path], ["correctness"])
    qtbot.addWidget(dlg)
    panel.run_import(dlg.choices())
    qtbot.waitUntil(lambda: len(panel.outcomes) == 1, timeout=10000)
    assert panel.outcomes[0].errors == ["line 3: label 1 of 'labels' must be true or false (or 1/0), not 'maybe'"]
    assert project_ctx.db.call_sync(step_counts) == {}
    texts = [panel.log.item(i).text() for i in range(panel.log.count())]
    assert any(t.startswith("  ✗ bad.jsonl, line 3:") for t in texts)


def test_export_asks_what_and_writes_step_labels_in_the_chosen_format(qtbot, panel, project_ctx, tmp_path,
                                                                      monkeypatch):
    from PySide6.QtWidgets import QFileDialog, QInputDialog

    src = _write(tmp_path / "prm.jsonl", [prm800k_row()])
    dlg = ImportDialog([src], ["correctness"])
    qtbot.addWidget(dlg)
    panel.run_import(dlg.choices())
    qtbot.waitUntil(lambda: len(panel.outcomes) == 1, timeout=10000)
    panel.reload()
    qtbot.waitUntil(lambda: [o.name for o in panel.objectives] == ["correctness"], timeout=5000)
    answers = iter([("correctness", True), ("Step labels as prm800k", True)])
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: next(answers)))
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "")))
    panel.start_export()
    qtbot.waitUntil(out.exists, timeout=10000)
    assert json.loads(out.read_text()) == prm800k_row()  # what came in goes out the same
    qtbot.waitUntil(lambda: any("step-labelled solutions" in panel.log.item(i).text()
                                for i in range(panel.log.count())), timeout=5000)


def test_check_answers_button_labels_steps_as_the_checker(qtbot, panel, project_ctx, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QInputDialog

    rows = [{"prompt": "What is 2 + 3?", "completions": ["2 + 3 = 5", "The answer is 5."], "labels": [True, True],
             "reference_answer": "5", "intermediate_results": [5]},
            {"prompt": "What is 2 * 3?", "completions": ["2 * 3 = 5", "The answer is 5."], "labels": [True, True],
             "reference_answer": "6", "intermediate_results": [6]}]
    dlg = ImportDialog([_write(tmp_path / "s.jsonl", rows)], ["correctness"])
    qtbot.addWidget(dlg)
    panel.run_import(dlg.choices())
    qtbot.waitUntil(lambda: len(panel.outcomes) == 1, timeout=10000)
    panel.reload()
    qtbot.waitUntil(lambda: [o.name for o in panel.objectives] == ["correctness"], timeout=5000)
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("correctness", True)))
    panel.check_button.click()
    line = "Checked 2 solutions for correctness: 1 with the right final answer, 4 step labels written by auto:checker"
    qtbot.waitUntil(lambda: any(panel.log.item(i).text() == line for i in range(panel.log.count())), timeout=10000)

    def checker_ratings(s):
        from workbench.store.annotators import get_or_create_annotator
        from workbench.store.step_labels import active_step_labels

        me = get_or_create_annotator(s, "auto:checker").id
        return sorted((lab.response_id, lab.step_index, lab.rating) for lab in active_step_labels(s, annotator_id=me))

    ratings = [r for _resp, _i, r in project_ctx.db.call_sync(checker_ratings)]
    assert ratings == [1, 1, -1, -1]  # 2*3 = 5 is wrong at step 1, and so is everything after it
