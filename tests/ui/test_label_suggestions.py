"""The reward model's suggested labels in the Label panel (issue #17 item 4b): the newest run's
pair_suggestions.json is read at session start, the bar names the suggested side on screen, Y confirms it as the
annotator's own label (noted as a confirmation), other keys overturn it, and the agreement dialog reports the
model against people's own labels."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.ui.test_label_panel import OBJECTIVES, active, make_project, press, start
from workbench.core.rm_suggestions import CONFIRMED_NOTE, SUGGESTIONS_FILE, Suggestion, write_suggestions_file
from workbench.ui.panels.label_panel import LabelPanel
from workbench.ui.widgets.label_suggestion import SHOW_KEY

# every pair: the model prefers A on helpful (p = 0.83) and B on harmless (p_a = 0.1)
P_A = {"helpful": 0.83, "harmless": 0.1}


def write_suggestions(ctx, pair_ids) -> None:
    run_dir = ctx.runs_root / "0003-rm"
    run_dir.mkdir(parents=True)
    write_suggestions_file(run_dir / SUGGESTIONS_FILE, run_dir.name, list(OBJECTIVES),
                           {p: {o: Suggestion(p, o, P_A[o]) for o in OBJECTIVES} for p in pair_ids})


def panel_for(qtbot, ctx, *, show: bool) -> tuple[LabelPanel, dict[str, int]]:
    ids = ctx.db.call_sync(make_project)
    ctx.settings.setValue(SHOW_KEY, show)
    panel = LabelPanel(ctx)
    qtbot.addWidget(panel)
    panel.show()
    panel.reload()
    qtbot.waitUntil(lambda: panel.annotator.count() == 1, timeout=5000)
    panel.order.setCurrentIndex(panel.order.findData("in_order"))
    return panel, ids


def test_suggestion_shown_confirmed_with_a_key_or_overturned(qtbot, project_ctx):
    ctx = project_ctx
    panel, ids = panel_for(qtbot, ctx, show=True)
    write_suggestions(ctx, range(1, 3))  # pairs 1 and 2 only
    start(qtbot, panel)
    first = panel.pair_view.shown_pair_id
    swapped = panel.session.current.swapped
    side_of_a = "right" if swapped else "left"
    side_of_b = "left" if swapped else "right"
    assert first == 1 and panel.suggestion.isVisible()
    assert f"Model suggests the {side_of_a} response (A), p = 0.83" in panel.suggestion.text.text()
    assert "Y confirms" in panel.suggestion.text.text()
    press(qtbot, panel, Qt.Key.Key_Y)  # row 1 (helpful): confirm A
    assert panel.rows.focus_row == 1
    assert f"the {side_of_b} response (B), p = 0.90" in panel.suggestion.text.text()
    # row 2 (harmless): overturn the suggested B by choosing the side showing A
    press(qtbot, panel, Qt.Key.Key_1 if side_of_a == "left" else Qt.Key.Key_2)
    qtbot.waitUntil(lambda: panel.pair_view.shown_pair_id == 2, timeout=5000)
    press(qtbot, panel, Qt.Key.Key_T)  # pair 2, helpful: a tie; its note must not inherit the confirmation
    press(qtbot, panel, Qt.Key.Key_Y)  # pair 2, harmless: confirm B
    qtbot.waitUntil(lambda: panel.pair_view.shown_pair_id == 3, timeout=5000)
    assert panel.suggestion.text.text() == "No model suggestion for this pair."
    assert panel.suggestion.shown_choice() is None
    press(qtbot, panel, Qt.Key.Key_Y)  # nothing to confirm: no label, the row stays
    assert panel.rows.focus_row == 0
    qtbot.waitUntil(lambda: panel.session.committed == 4, timeout=5000)
    stored = ctx.db.call_sync(active, ids["alice"])
    helpful, harmless = ids["helpful"], ids["harmless"]
    got = {(p, o): (lab.choice, lab.note, lab.annotator_id) for (p, o), lab in stored.items()}
    assert got == {(1, helpful): ("a", CONFIRMED_NOTE, ids["alice"]), (1, harmless): ("a", "", ids["alice"]),
                   (2, helpful): ("tie", "", ids["alice"]), (2, harmless): ("b", CONFIRMED_NOTE, ids["alice"])}

    # the agreement dialog: the model vs people's own decisive labels (pair 1 harmless: overturned), confirmations
    # counted apart
    dlg = panel.show_agreement()
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: "Reward model (0003-rm)" in dlg.model_vs_people.text(), timeout=5000)
    text = dlg.model_vs_people.text()
    assert "harmless: accuracy 0.00, Cohen κ 0.00 over 1 independent labels; 1 suggestion(s) confirmed" in text
    assert "helpful: accuracy n/a, Cohen κ n/a over 0 independent labels; 1 suggestion(s) confirmed" in text


def test_suggestions_stay_hidden_and_inert_until_switched_on(qtbot, project_ctx):
    ctx = project_ctx
    panel, ids = panel_for(qtbot, ctx, show=False)
    write_suggestions(ctx, range(1, 51))
    start(qtbot, panel)
    assert panel.suggestion.text.text() == "" and panel.suggestion.shown_choice() is None
    press(qtbot, panel, Qt.Key.Key_Y)
    assert panel.rows.focus_row == 0 and panel.session.labelled == 0
    panel.suggestion.toggle.setChecked(True)  # remembered for the next session
    assert ctx.settings.value(SHOW_KEY) in (True, "true")
    assert "p = 0.83" in panel.suggestion.text.text()
    press(qtbot, panel, Qt.Key.Key_Y)
    assert panel.rows.focus_row == 1
