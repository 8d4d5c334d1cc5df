"""The Rounds panel's Label step, driven as a person would: the Label button runs `workbench round --step label`,
the Label panel then offers exactly the round's unlabelled pairs in active order (the parent run's margins first)
with a "Round N: k of m pairs labelled" banner that follows every key and undo; Train stays disabled until the last
pair is labelled, then becomes the next step; "Back to the whole queue" offers the project's other pairs again."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.store.test_round_label import build_two_rounds
from workbench.ui.widgets.round_label_mode import banner_text


def _setup(qtbot, ctx, tmp_path):
    from workbench.store.rounds import mark_done
    from workbench.ui.main_window import MainWindow

    ctx.new_project(tmp_path / "project.sqlite")

    def build(s):
        d = build_two_rounds(s, tmp_path)
        mark_done(s, d["round"], "generate")
        return d

    d = ctx.db.call_sync(build)
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    return win, d


def _round_2_open(qtbot, ctx, tmp_path):
    """A Label panel labelling round 2 of build_two_rounds, its first pair on screen."""
    from workbench.ui.panels.label_panel import LabelPanel

    ctx.new_project(tmp_path / "project.sqlite")
    ctx.db.call_sync(lambda s: build_two_rounds(s, tmp_path))
    panel = LabelPanel(ctx)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.annotator.count() == 1, timeout=5000)
    panel.label_round(2)
    qtbot.waitUntil(lambda: panel.session is not None and panel.pair_view.shown_pair_id is not None, timeout=5000)
    return panel


def test_round_label_step_filters_orders_counts_and_exits(qtbot, ctx, tmp_path):
    win, d = _setup(qtbot, ctx, tmp_path)
    rounds, label = win.panel("RoundsPanel"), win.panel("LabelPanel")
    qtbot.waitUntil(lambda: rounds.table.rowCount() == 2, timeout=5000)
    qtbot.waitUntil(lambda: label.annotator.count() == 1, timeout=5000)
    assert rounds.current_step() == "label"
    assert "Next: label — 0 of 5 pairs labelled" in rounds.status.text()
    assert not rounds.buttons["train"].isEnabled()

    label.mode.setCurrentText("Only: short")  # the person's last choice: the round's objectives win
    qtbot.mouseClick(rounds.buttons["label"], Qt.MouseButton.LeftButton)  # the child process adds no labels here
    qtbot.waitUntil(lambda: label.round_mode.active and label.pair_view.shown_pair_id is not None, timeout=60000)
    assert win.tabs.currentWidget() is label
    assert rounds.status.text().startswith("round 2: 0 automatic labels; 0 of 5 pairs labelled; 5 wait for people")
    assert label.round_mode.banner.isVisible()
    assert label.round_mode.banner.text.text() == "Round 2: 0 of 5 pairs labelled"
    assert label.round_mode.banner.order.text() == (
        "Order: 3 by run 1's margins (smallest first); 2 in generation order (run 1 has no margins for them)")
    assert [w.isEnabled() for w in (label.mode, label.order, label.overlap)] == [False, False, False]
    assert label.session.objective_ids == list(d["objectives"].values())  # the round's, not "Only: short"

    p = d["pairs"]
    seen = []
    for n in range(5):
        shown = label.pair_view.shown_pair_id
        seen.append(shown)
        qtbot.keyClick(label.rows, Qt.Key.Key_1)
        qtbot.keyClick(label.rows, Qt.Key.Key_2)
        want = banner_text(2, n + 1, 5, n == 4)
        qtbot.waitUntil(lambda want=want: label.round_mode.banner.text.text() == want, timeout=5000)
        if n == 0:  # undo takes the label back, and the count with it
            qtbot.keyClick(label.rows, Qt.Key.Key_Backspace)
            qtbot.waitUntil(lambda: label.round_mode.banner.text.text() == "Round 2: 0 of 5 pairs labelled",
                            timeout=5000)
            assert label.pair_view.shown_pair_id == shown
            qtbot.keyClick(label.rows, Qt.Key.Key_2)
            qtbot.waitUntil(lambda: label.round_mode.banner.text.text() == "Round 2: 1 of 5 pairs labelled",
                            timeout=5000)
            assert not rounds.buttons["train"].isEnabled()  # labels still owed: no Train yet
        if n < 4:
            qtbot.waitUntil(lambda shown=shown: label.pair_view.shown_pair_id not in (None, shown), timeout=5000)
    assert seen == [p[2], p[4], p[1], p[0], p[3]]  # |m| 0.1, 0.5, 0.9, then generation order; no other pair
    qtbot.waitUntil(lambda: label.session.exhausted(), timeout=5000)
    assert "Round 2 is labelled: train it in the Rounds panel." in label.progress.text()
    assert label.round_mode.banner.text.text().startswith("Round 2: all 5 pairs labelled")
    qtbot.waitUntil(lambda: rounds.current_step() == "train", timeout=5000)
    assert [name for name, b in rounds.buttons.items() if b.isEnabled()] == ["train"]
    assert rounds.status.text() == "Next: train"  # not the Label step's "0 of 5 pairs labelled; 5 wait ..." any more
    qtbot.keyClick(label.rows, Qt.Key.Key_Backspace)  # an undo after the last label: Train is no longer offered
    qtbot.waitUntil(lambda: label.round_mode.banner.text.text() == "Round 2: 4 of 5 pairs labelled", timeout=5000)
    qtbot.waitUntil(lambda: rounds.current_step() == "label", timeout=5000)
    assert not rounds.buttons["train"].isEnabled() and rounds.status.text() == "Next: label — 4 of 5 pairs labelled"
    qtbot.keyClick(label.rows, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: rounds.current_step() == "train", timeout=5000)
    assert label.round_mode.banner.text.text().startswith("Round 2: all 5 pairs labelled")

    def labels(s):
        from workbench.store.labels import active_labels

        return sorted((lab.pair_id, lab.objective_id, lab.choice) for lab in active_labels(s, annotator_id=d["alice"]))

    stored = ctx.db.call_sync(labels)
    assert len(stored) == 10 and {pid for pid, _, _ in stored} == set(p)  # 2 objectives × 5 pairs, undo kept none

    qtbot.mouseClick(label.round_mode.banner.exit_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: label.pair_view.shown_pair_id in d["other"], timeout=5000)
    assert not label.round_mode.active and not label.round_mode.banner.isVisible()
    assert [w.isEnabled() for w in (label.mode, label.order, label.overlap)] == [True, True, True]


def test_automatic_labellers_are_not_people_in_the_label_panel(qtbot, project_ctx):
    """A mix round's automatic labeller ("auto:scorer:brevity") is an annotator in the store; it must not be offered
    as a person to label as, and nobody may take a name that would count their labels as a machine's."""
    from workbench.store.annotators import get_or_create_annotator
    from workbench.ui.errors import shown_errors
    from workbench.ui.panels.label_panel import LabelPanel

    project_ctx.db.call_sync(lambda s: [get_or_create_annotator(s, n) for n in ("alice", "auto:scorer:brevity")])
    panel = LabelPanel(project_ctx)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.annotator.count() > 0, timeout=5000)
    assert [panel.annotator.itemText(i) for i in range(panel.annotator.count())] == ["alice"]
    panel.new_name.setText("auto:me")
    qtbot.mouseClick(panel.new_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: any("cannot start with 'auto:'" in text for _, text, _ in shown_errors()), timeout=5000)
    assert [panel.annotator.itemText(i) for i in range(panel.annotator.count())] == ["alice"]


def test_opening_another_project_leaves_the_round_quietly(qtbot, ctx, tmp_path):
    """The round belongs to the project it came from: another project ends the round mode without restarting a
    session on the old annotator (the panel reloads for the new project on its own)."""
    panel = _round_2_open(qtbot, ctx, tmp_path)
    assert panel.round_mode.banner.text.text() == "Round 2: 0 of 5 pairs labelled"
    with qtbot.assertNotEmitted(panel.round_mode.left):
        ctx.new_project(tmp_path / "other.sqlite")
    assert not panel.round_mode.active and panel.order.isEnabled()


def test_a_round_opened_while_the_panel_labels_steps_labels_its_pairs(qtbot, ctx, tmp_path):
    """The Label panel left in Steps mode (issue #17) must not start a step session for a round's pairs."""
    win, d = _setup(qtbot, ctx, tmp_path)
    rounds, label = win.panel("RoundsPanel"), win.panel("LabelPanel")
    qtbot.waitUntil(lambda: rounds.table.rowCount() == 2 and label.annotator.count() == 1, timeout=5000)
    label.kind.setCurrentIndex(label.kind.findData("steps"))
    assert label.step_mode()
    label.label_round(2)
    qtbot.waitUntil(lambda: label.round_mode.active and label.pair_view.shown_pair_id is not None, timeout=60000)
    assert not label.step_mode()
    assert not label.pair_view.isHidden() and label.steps_pane.isHidden()
    assert label.pair_view.shown_pair_id == d["pairs"][2]


def test_a_mix_rounds_automatic_label_is_given_not_asked_again(qtbot, ctx, tmp_path):
    """A mix round labels a pair automatically for one objective (its scorer was confident there) and leaves the
    other to people: the Label panel shows the automatic answer on that row and asks only for the owed one, so one
    key finishes the pair (before: both rows were asked, and the person's label stood beside the machine's)."""
    from workbench.store.labels import active_labels
    from workbench.store.rounds import add_auto_label
    from workbench.ui.panels.label_panel import LabelPanel

    ctx.new_project(tmp_path / "project.sqlite")
    d = ctx.db.call_sync(lambda s: build_two_rounds(s, tmp_path))
    first = d["pairs"][2]  # the round's first pair (smallest parent margin)
    ctx.db.call_sync(lambda s: add_auto_label(s, first, "helpful", "auto:scorer:helpfulness", "b"))
    panel = LabelPanel(ctx)
    qtbot.addWidget(panel)
    qtbot.waitUntil(lambda: panel.annotator.count() == 1, timeout=5000)
    panel.label_round(2)
    qtbot.waitUntil(lambda: panel.session is not None and panel.pair_view.shown_pair_id == first, timeout=5000)
    screen = panel.session.current
    assert panel.session.row == 1 and panel.rows.focus_row == 1  # "short" is the only row asked
    given = "B better ▶" if not screen.swapped else "◀ A better"  # the machine chose b, shown where b stands
    assert panel.rows.answers[0].text() == f"{given} — given by auto:scorer:helpfulness"
    qtbot.keyClick(panel.rows, Qt.Key.Key_1)  # one key answers the pair
    qtbot.waitUntil(lambda: panel.pair_view.shown_pair_id not in (None, first), timeout=5000)
    qtbot.waitUntil(lambda: panel.round_mode.banner.text.text() == "Round 2: 1 of 5 pairs labelled", timeout=5000)
    assert panel.session.row == 0 and panel.rows.answers[0].text().startswith("…")  # the next pair asks both

    def labels(s):
        return sorted((lab.objective_id, lab.choice) for lab in active_labels(s) if lab.pair_id == first)

    obj = d["objectives"]
    human = "b" if screen.swapped else "a"  # key 1 = the left side
    assert ctx.db.call_sync(labels) == [(obj["helpful"], "b"), (obj["short"], human)]  # one label per objective


def test_the_banners_order_counts_what_is_left(qtbot, ctx, tmp_path):
    """The banner's "Order: 3 by run 1's margins ...; 2 in generation order" stayed as the round was opened while
    pairs were labelled; it now counts the pairs still owed."""
    panel = _round_2_open(qtbot, ctx, tmp_path)
    assert panel.round_mode.banner.order.text() == (
        "Order: 3 by run 1's margins (smallest first); 2 in generation order (run 1 has no margins for them)")
    qtbot.keyClick(panel.rows, Qt.Key.Key_1)
    qtbot.keyClick(panel.rows, Qt.Key.Key_2)  # the first pair (smallest margin) is labelled
    qtbot.waitUntil(lambda: panel.round_mode.banner.order.text() == (
        "Order: 2 by run 1's margins (smallest first); 2 in generation order (run 1 has no margins for them)"),
        timeout=5000)
