"""Label panel, step mode, driven by QTest key presses (issue #17): the split preview and its change, ratings landing
on the right steps in the store, first error, undo/redo, next/previous, a fixed split, the step agreement view."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from workbench.core.steps import BAD, GOOD, NEUTRAL
from workbench.ui.panels.label_panel import LabelPanel

SOLUTIONS = [
    "Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 14\nStep 3: The answer is 14",
    "Step 1: 3 + 4 = 8\nStep 2: 8 * 2 = 16\nStep 3: The answer is 16",
    "Step 1: 3 * 2 = 6\nwhich is wrong\nStep 2: The answer is 6",
]


def make_project(s) -> dict[str, int]:
    from workbench.store.annotators import get_or_create_annotator
    from workbench.store.objectives import add_objective
    from workbench.store.pairs import add_prompt, add_response

    ids = {"correct": add_objective(s, "correct").id}
    p = add_prompt(s, "What is (3 + 4) * 2?")
    ids["responses"] = [add_response(s, p.id, text).id for text in SOLUTIONS]
    ids["alice"] = get_or_create_annotator(s, "alice").id
    return ids


def ratings(s, annotator_id: int) -> dict[tuple[int, int], tuple[int | None, bool]]:
    from workbench.store.step_labels import active_step_labels

    return {(lab.response_id, lab.step_index): (lab.rating, lab.first_error)
            for lab in active_step_labels(s, annotator_id=annotator_id, rated_only=False)}


@pytest.fixture
def setup(qtbot, project_ctx):
    ids = project_ctx.db.call_sync(make_project)
    panel = LabelPanel(project_ctx)
    qtbot.addWidget(panel)
    panel.resize(1100, 760)
    panel.show()
    panel.reload()
    qtbot.waitUntil(lambda: panel.annotator.count() == 1, timeout=5000)
    panel.order.setCurrentIndex(panel.order.findData("in_order"))
    panel.kind.setCurrentIndex(panel.kind.findData("steps"))
    return panel, ids


def press(qtbot, panel, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    session = panel.steps_pane.session
    qtbot.waitUntil(lambda: not session.waiting(), timeout=5000)
    qtbot.keyClick(panel.steps_pane, key, modifier)


def settle(qtbot, project_ctx, panel) -> None:
    session = panel.steps_pane.session
    qtbot.waitUntil(lambda: not session.waiting(), timeout=5000)
    project_ctx.db.call_sync(lambda s: None)  # the DB thread is FIFO: every label before this is durable


def test_step_keys_rate_the_right_steps(qtbot, setup, project_ctx) -> None:
    panel, ids = setup
    pane, r1, r2, r3 = panel.steps_pane, *ids["responses"]
    assert pane.isVisible() and not panel.pair_view.isVisible()
    pane.set_split("line")
    panel.start_session()
    qtbot.waitUntil(lambda: pane.view.shown_response_id == r1, timeout=5000)
    assert pane.view.table.rowCount() == 3  # the preview: one step per line
    pane.set_split("paragraph")  # nothing labelled yet: the response on screen is re-split
    assert pane.view.table.rowCount() == 1
    pane.set_split("regex", "(")  # a broken regex: said, no steps, nothing stored
    assert "not valid" in pane.split_note.text() and pane.view.table.rowCount() == 0
    pane.set_split("regex", r"^Step [23]")
    assert pane.view.table.rowCount() == 3 and pane.split_note.text() == ""
    pane.set_split("step_k")
    assert [pane.view.table.item(r, 2).text() for r in range(3)] == SOLUTIONS[0].split("\n")

    press(qtbot, panel, Qt.Key.Key_G)  # step 1 good, focus moves to step 2
    press(qtbot, panel, Qt.Key.Key_0)  # step 2 neutral
    press(qtbot, panel, Qt.Key.Key_Up)
    press(qtbot, panel, Qt.Key.Key_B)  # step 2 again: bad (the neutral becomes history)
    assert pane.view.ratings_shown() == ["✓ good", "✗ bad", ""]
    pane.set_split("line")  # labelled now: the split of this response stays
    assert "keeps its steps" in pane.split_note.text() and pane.view.table.rowCount() == 3
    pane.set_split("step_k")
    press(qtbot, panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)  # undo: step 2 neutral again
    assert pane.view.ratings_shown() == ["✓ good", "○ neutral", ""] and pane.session.focus == 1
    press(qtbot, panel, Qt.Key.Key_Down)
    press(qtbot, panel, Qt.Key.Key_Minus)  # step 3 bad: every step rated, the next response appears
    qtbot.waitUntil(lambda: pane.view.shown_response_id == r2, timeout=5000)
    settle(qtbot, project_ctx, panel)
    assert project_ctx.db.call_sync(ratings, ids["alice"]) == {
        (r1, 0): (GOOD, False), (r1, 1): (NEUTRAL, False), (r1, 2): (BAD, False)}

    press(qtbot, panel, Qt.Key.Key_E)  # first error at step 1 of response 2: done, response 3 appears
    qtbot.waitUntil(lambda: pane.view.shown_response_id == r3, timeout=5000)
    press(qtbot, panel, Qt.Key.Key_PageUp)  # back to response 2: its mark is shown
    assert pane.view.shown_response_id == r2 and pane.view.ratings_shown() == ["✗ first error", "", ""]
    press(qtbot, panel, Qt.Key.Key_PageDown)
    assert pane.view.shown_response_id == r3 and pane.view.table.rowCount() == 2  # "Step k" split of response 3
    press(qtbot, panel, Qt.Key.Key_Down)
    press(qtbot, panel, Qt.Key.Key_A)  # no error: both steps good
    qtbot.waitUntil(lambda: pane.session.current is None, timeout=5000)
    assert "No response left" in pane.progress.text()
    press(qtbot, panel, Qt.Key.Key_Backspace)  # undo the "no error" key: response 3 back, unrated
    assert pane.view.shown_response_id == r3 and pane.view.ratings_shown() == ["", ""]
    press(qtbot, panel, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: pane.session.current is None and not pane.session.waiting(), timeout=5000)
    panel.undo()  # Edit ▸ Undo in step mode
    assert pane.view.shown_response_id == r3 and pane.view.ratings_shown() == ["", ""]
    panel.redo()  # Edit ▸ Redo reaches the step session too
    settle(qtbot, project_ctx, panel)
    stored = project_ctx.db.call_sync(ratings, ids["alice"])
    assert {k: v for k, v in stored.items() if k[0] != r1} == {
        (r2, 0): (BAD, True), (r3, 0): (GOOD, False), (r3, 1): (GOOD, False)}

    def history(s):
        from workbench.store.step_labels import step_label_history

        return [(h.step_index, h.rating, h.superseded) for h in step_label_history(s, r1)]

    assert project_ctx.db.call_sync(history) == [(0, 1, False), (1, 0, False), (1, -1, True), (2, -1, False)]


def test_step_mode_needs_one_objective_and_shows_agreement(qtbot, setup, project_ctx, monkeypatch) -> None:
    panel, ids = setup
    errors = []
    monkeypatch.setattr("workbench.ui.widgets.label_steps_pane.show_error", lambda *a: errors.append(a[2]))

    def second_objective(s):
        from workbench.store.objectives import add_objective

        add_objective(s, "style")

    project_ctx.db.call_sync(second_objective)
    panel.reload()
    qtbot.waitUntil(lambda: panel.mode.count() == 4, timeout=5000)  # all, only correct, only style, some
    panel.mode.setCurrentIndex(0)
    panel.start_session()
    assert panel.steps_pane.session is None and "one objective at a time" in errors[0]
    dlg = panel.show_agreement()
    qtbot.waitUntil(lambda: "No step labels yet" in dlg.note.text(), timeout=5000)
    assert type(dlg).__name__ == "StepAgreementDialog"
    dlg.close()


def test_step_agreement_rows(qapp) -> None:
    from tests.core.test_step_labels import two_annotators
    from workbench.core.entities import Objective
    from workbench.ui.dialogs.step_agreement_dialog import agreement_rows

    rows = agreement_rows([Objective(1, "correct"), Objective(2, "style")], two_annotators(), {10: 2, 11: 2})
    # steps: κ 7/11, Fleiss 13/21, α 2/3 (tests/core/test_step_labels.py); first error: units 10 (−1 vs 1) and
    # 11 (0 vs 0): Cohen p_o 1/2, p_e = (0 + 1·1)/4 -> 1/3; Fleiss P̄ 1/2, P̄_e = (1 + 1 + 4)/16 -> 0.2;
    # α = 1 − 3·2/(16 − 6) = 0.4; "style" has no step labels: no row
    assert rows == [["correct", "steps", "0.636", "0.619", "0.667", "4", "8"],
                    ["correct", "first error", "0.333", "0.200", "0.400", "2", "4"]]


def test_step_keys_are_remappable(qtbot, setup, project_ctx) -> None:
    from workbench.ui.widgets.label_steps_keymap import StepKeyMap

    panel, ids = setup
    dlg = panel.edit_keys()
    assert set(dlg.edits) == set(StepKeyMap.actions)  # the step screen's actions, not the pair ones
    dlg.set_key("good", "Y")
    dlg.accept()
    pane = panel.steps_pane
    assert isinstance(pane.keymap, StepKeyMap) and pane.keymap.keys("good")[0] == "Y"
    assert StepKeyMap.load(project_ctx.settings).keys("good")[0] == "Y"  # saved under step_keys/
    assert "Y / = / +: good" in pane.key_hint.text()
    assert ("E", "Steps: First error here: this step bad, the unrated steps before it good") in panel.shortcut_help()
    pane.set_split("line")
    panel.start_session()
    qtbot.waitUntil(lambda: pane.view.shown_response_id == ids["responses"][0], timeout=5000)
    press(qtbot, panel, Qt.Key.Key_Y)
    pane.focus_step(2)  # a click on step 3
    press(qtbot, panel, Qt.Key.Key_B)
    settle(qtbot, project_ctx, panel)
    assert project_ctx.db.call_sync(ratings, ids["alice"]) == {(ids["responses"][0], 0): (GOOD, False),
                                                                (ids["responses"][0], 2): (BAD, False)}
