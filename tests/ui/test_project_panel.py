"""Project panel: objectives edited in place reach the store; the summary shows the stored counts and coverage;
import through the dialog (format detected, objective chosen) with progress and line-numbered errors; export
round-trips; files dropped on the panel open the import dialog."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent

from workbench.ui.dialogs.import_dialog import CHUNK, ImportDialog
from workbench.ui.panels.project_panel import ProjectPanel


def objectives(ctx):
    from workbench.store.objectives import list_objectives

    return ctx.db.call_sync(list_objectives)


def write_trl(path, n: int, *, bad_line: int | None = None) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(1, n + 1):
            if i == bad_line:
                fh.write('{"prompt": "broken", "chosen": \n')
            else:
                fh.write(json.dumps({"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"}) + "\n")


@pytest.fixture
def panel(qtbot, project_ctx):
    p = ProjectPanel(project_ctx)
    qtbot.addWidget(p)
    p.resize(1000, 700)
    return p


def test_objectives_add_rename_describe_direction(qtbot, panel, project_ctx):
    panel.add_objective_dialog("helpful")
    panel.add_objective_dialog("harmless")
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=5000)
    panel.table.item(0, 0).setText("helpfulness")
    panel.table.item(1, 1).setText("no dangerous advice")
    panel.table.cellWidget(1, 2).setCurrentIndex(panel.table.cellWidget(1, 2).findData("minimize"))
    qtbot.waitUntil(lambda: [o.name for o in objectives(project_ctx)] == ["helpfulness", "harmless"], timeout=5000)
    stored = objectives(project_ctx)
    assert stored[1].description == "no dangerous advice" and stored[1].direction == "minimize"
    assert stored[0].direction == "maximize"


def test_empty_name_is_refused(qtbot, panel, project_ctx):
    from workbench.ui.errors import shown_errors

    panel.add_objective_dialog("helpful")
    qtbot.waitUntil(lambda: panel.table.rowCount() == 1, timeout=5000)
    panel.table.item(0, 0).setText("   ")
    assert "needs a name" in shown_errors()[-1][1]
    qtbot.waitUntil(lambda: panel.table.item(0, 0).text() == "helpful", timeout=5000)


def test_import_big_file_with_progress_then_summary_and_export(qtbot, panel, project_ctx, tmp_path):
    data = tmp_path / "prefs.jsonl"
    n = CHUNK * 2 + 500
    write_trl(data, n)
    dlg = ImportDialog([str(data)], ["helpful"])
    qtbot.addWidget(dlg)
    path, fmt, objective = dlg.choices()[0]
    assert (path, fmt, objective) == (str(data), "trl", "helpful")  # the format was detected
    values = []
    panel.progress.valueChanged.connect(values.append)
    panel.run_import(dlg.choices())
    qtbot.waitUntil(lambda: len(panel.outcomes) == 1, timeout=60000)
    outcome = panel.outcomes[0]
    assert (outcome.pairs, outcome.labels, outcome.errors) == (n, n, [])
    assert len([v for v in values if 0 < v < 1000]) >= 2  # progress moved between chunks
    qtbot.waitUntil(lambda: panel.stats is not None and panel.stats.pairs == n, timeout=5000)
    assert f"{n:,}</b> pairs" in panel.totals.text()
    out = tmp_path / "out.jsonl"
    panel.export_to("helpful", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == n and {"prompt": "q7", "chosen": "good 7", "rejected": "bad 7"}.items() <= rows[6].items()


def test_bad_line_is_reported_with_its_number(qtbot, panel, tmp_path):
    data = tmp_path / "broken.jsonl"
    write_trl(data, 10, bad_line=6)
    dlg = ImportDialog([str(data)], ["helpful"])
    qtbot.addWidget(dlg)
    panel.run_import(dlg.choices())
    qtbot.waitUntil(lambda: len(panel.outcomes) == 1, timeout=10000)
    errors = panel.outcomes[0].errors
    assert len(errors) == 1 and errors[0].startswith("line 6:")
    assert panel.outcomes[0].pairs == 0  # the reader checks the whole file before anything is stored
    texts = [panel.log.item(i).text() for i in range(panel.log.count())]
    assert any("broken.jsonl, line 6:" in t for t in texts)
    assert not any("Traceback" in t for t in texts)


def test_dropping_files_opens_the_import_dialog(qtbot, panel, tmp_path, monkeypatch):
    data = tmp_path / "dropped.jsonl"
    write_trl(data, 3)
    opened = []
    monkeypatch.setattr(ImportDialog, "open", lambda self: opened.append(self.choices()))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(data)), QUrl.fromLocalFile(str(tmp_path / "notes.txt"))])
    event = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    panel.dropEvent(event)
    assert [c[0] for c in opened[0]] == [str(data)]


def test_reimport_lists_duplicates_by_line(qtbot, panel, tmp_path):
    data = tmp_path / "again.jsonl"
    write_trl(data, 3)
    dlg = ImportDialog([str(data)], ["helpful"])
    qtbot.addWidget(dlg)
    choices = dlg.choices()
    panel.run_import(choices)
    panel.run_import(choices)
    qtbot.waitUntil(lambda: len(panel.outcomes) == 2, timeout=10000)
    first, second = panel.outcomes
    assert (first.pairs, first.duplicates) == (3, [])
    assert (second.pairs, second.labels, second.duplicates) == (0, 0, [1, 2, 3])
    texts = [panel.log.item(i).text() for i in range(panel.log.count())]
    assert "  again.jsonl: duplicates skipped on lines 1, 2, 3" in texts


def test_delete_an_objective_asks_about_its_labels_and_can_move_them(qtbot, panel, project_ctx, monkeypatch):
    """Issue #13: deleting an objective asks what happens to its labels; moving them keeps every label."""
    from PySide6.QtWidgets import QInputDialog

    from workbench.store.labels import active_labels

    def labelled(s):
        from tests.store.helpers import make_pairs
        from workbench.store.annotators import get_or_create_annotator
        from workbench.store.labels import add_label
        from workbench.store.objectives import add_objective

        pairs = make_pairs(s, 2)
        old, keep = add_objective(s, "old").id, add_objective(s, "keep").id
        me = get_or_create_annotator(s, "me").id
        for pid in pairs:
            add_label(s, pid, old, me, "a")
        return old, keep

    old, keep = project_ctx.db.call_sync(labelled)
    panel.reload()
    qtbot.waitUntil(lambda: panel.table.rowCount() == 2, timeout=5000)
    panel.table.setCurrentCell(0, 0)
    box = panel.delete_objective_dialog()
    assert "2 active labels" in box.text()
    texts = [b.text() for b in box.buttons()]
    assert "Delete it and its labels" in texts and "Move its labels to…" in texts
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("keep", True)))
    next(b for b in box.buttons() if b.text() == "Move its labels to…").click()
    qtbot.waitUntil(lambda: [o.name for o in objectives(project_ctx)] == ["keep"], timeout=5000)
    moved = project_ctx.db.call_sync(lambda s: active_labels(s, objective_id=keep))
    assert len(moved) == 2


def test_import_a_parquet_file_and_a_hub_dataset_from_the_gui(qtbot, panel, project_ctx, tmp_path, monkeypatch):
    """Issue #13: Parquet (most public preference sets) and hub ids go through the same import job as JSONL."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    datasets = pytest.importorskip("datasets")
    from PySide6.QtWidgets import QInputDialog

    rows = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(1, 2501)]
    data = tmp_path / "prefs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), data)
    dlg = ImportDialog([str(data)], ["helpful"])
    qtbot.addWidget(dlg)
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: datasets.Dataset.from_list(
        [{"prompt": "hub q", "chosen": "yes", "rejected": "no"}]))
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: ("org/prefs:train_prefs", True)))
    dlg.ask_hub_id()
    assert dlg.choices() == [(str(data), "trl", "helpful"), ("hf:org/prefs:train_prefs", "trl", "helpful")]
    panel.run_import(dlg.choices())
    qtbot.waitUntil(lambda: len(panel.outcomes) == 2, timeout=60000)
    assert [(o.pairs, o.labels, o.errors) for o in panel.outcomes] == [(2500, 2500, []), (1, 1, [])]


def test_imported_step_labels_show_in_the_data_summary(qtbot, panel, tmp_path):
    """Found under Xvfb: after importing 80 step-labelled solutions the summary read "0 labels on 0 pairs" only."""
    from workbench.core.arith_task import generate_problems

    data = tmp_path / "steps.jsonl"
    rows = [p.trl_row() for p in generate_problems(6, seed=0, max_ops=2)]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    steps = sum(len(r["completions"]) for r in rows)
    dlg = ImportDialog([str(data)], ["helpful"])
    qtbot.addWidget(dlg)
    assert dlg.choices()[0][1] == "trl-stepwise"
    panel.run_import(dlg.choices())
    qtbot.waitUntil(lambda: len(panel.outcomes) == 1, timeout=10000)
    want = f"0 labels on 0 pairs · {steps} step ratings on 6 responses"
    qtbot.waitUntil(lambda: any(getattr(panel.coverage.itemAt(i).widget(), "text", lambda: "")() == want
                                for i in range(panel.coverage.count())), timeout=5000)


def test_labels_made_in_the_label_panel_show_when_the_project_tab_is_shown_again(qtbot, project_ctx):
    """Found under Xvfb: after labelling in the Label panel the Project tab still showed the counts of before
    (the Label panel does not notify per key); the summary now reloads whenever its tab is shown."""
    from tests.ui.test_label_panel import make_project
    from workbench.ui.main_window import MainWindow

    project_ctx.db.call_sync(make_project)
    win = MainWindow(project_ctx)
    qtbot.addWidget(win)
    win.show()
    project, label = win.panel("ProjectPanel"), win.panel("LabelPanel")
    qtbot.waitUntil(lambda: project.stats is not None, timeout=5000)
    assert [o.labels for o in project.stats.objectives] == [0, 0]
    win.tabs.setCurrentWidget(label)
    qtbot.waitUntil(lambda: label.annotator.count() == 1, timeout=5000)
    label.start_session()
    qtbot.waitUntil(lambda: label.pair_view.shown_pair_id is not None, timeout=5000)
    for _ in range(2):  # one pair: a row per objective
        qtbot.keyClick(label.rows, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: label.session.committed == 2, timeout=5000)
    win.tabs.setCurrentWidget(project)
    qtbot.waitUntil(lambda: [o.labels for o in project.stats.objectives] == [1, 1], timeout=5000)


def test_coverage_never_reads_100_percent_before_every_pair_is_labelled():
    """Found on the demo project: 285 of 286 pairs labelled showed "100% of pairs labelled" beside a bar that was
    not full."""
    from workbench.ui.percent import percent_text

    assert [percent_text(x) for x in (0, 1 / 1000, 0.5, 277 / 286, 285 / 286, 1)] == [
        "0%", "0.1%", "50%", "97%", "99.7%", "100%"]
