"""Issue #13 bugs 3 and 8: labelling right after an import, the overlap setting persisting, and the Label panel not
claiming no project is open when one is."""

from __future__ import annotations

from workbench.core.entities import PreferenceRecord
from workbench.ui.panels.label_panel import LabelPanel


def imported_project(s) -> None:
    from workbench.store.annotators import get_or_create_annotator
    from workbench.store.imports import import_records
    from workbench.store.objectives import add_objective

    records = [PreferenceRecord(prompt=f"question {i}", chosen=f"good {i}", rejected=f"bad {i}", line=i + 1)
               for i in range(5)]
    import_records(s, records, default_objective="helpful", source="prefs.jsonl", annotator="prefs.jsonl")
    add_objective(s, "concise")
    get_or_create_annotator(s, "me")


def test_imported_pairs_can_be_labelled_at_once(qtbot, project_ctx):
    project_ctx.db.call_sync(imported_project)
    panel = LabelPanel(project_ctx)
    qtbot.addWidget(panel)
    panel.reload()
    qtbot.waitUntil(lambda: panel.annotator.count() == 1, timeout=5000)  # "me"; the import's annotator is no person
    assert panel.annotator.currentText() == "me"
    assert "Open a project" not in panel.progress.text()
    for mode in ("Only: helpful", "Only: concise", "All objectives (one row each)"):
        panel.mode.setCurrentText(mode)
        panel.start_session()
        qtbot.waitUntil(lambda: panel.session.current is not None or "No pair left" in panel.progress.text(),
                        timeout=5000)
        assert panel.session.current is not None, mode
        assert "No pair left" not in panel.progress.text()


def test_overlap_persists(qtbot, project_ctx):
    panel = LabelPanel(project_ctx)
    qtbot.addWidget(panel)
    panel.overlap.setValue(3)
    again = LabelPanel(project_ctx)
    qtbot.addWidget(again)
    assert again.overlap.value() == 3


def test_opening_a_project_replaces_the_open_a_project_hint(qtbot, ctx, tmp_path):
    panel = LabelPanel(ctx)
    qtbot.addWidget(panel)
    assert "Open a project" in panel.progress.text()
    ctx.new_project(tmp_path / "p.sqlite")
    qtbot.waitUntil(lambda: "Open a project" not in panel.progress.text(), timeout=5000)


def labelled_on_screen(s) -> None:
    """5 imported labels plus, by "me", three decisive labels (two for the left-shown response) and one skip."""
    from workbench.store.annotators import get_or_create_annotator
    from workbench.store.labels import add_label
    from workbench.store.objectives import list_objectives

    imported_project(s)
    me = get_or_create_annotator(s, "me").id
    helpful = next(o.id for o in list_objectives(s) if o.name == "helpful")
    add_label(s, 1, helpful, me, "a", shown_swapped=False)  # left
    add_label(s, 2, helpful, me, "b", shown_swapped=True)  # b was on the left
    add_label(s, 3, helpful, me, "a", shown_swapped=True)  # right
    add_label(s, 4, helpful, me, "skip")


def test_position_bias_counts_only_labels_made_on_screen(qtbot, project_ctx):
    """Issue #13 bug 4: imported labels were never shown left or right; skips are not decisions."""
    from workbench.ui.dialogs.agreement_dialog import AgreementDialog

    project_ctx.db.call_sync(labelled_on_screen)
    dlg = AgreementDialog(project_ctx)
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.bias.text() != "", timeout=5000)
    assert "0.67 of 3 decisive labels made on screen" in dlg.bias.text()


def test_a_skip_is_not_counted_as_a_label(qtbot, project_ctx):
    from PySide6.QtCore import Qt

    project_ctx.db.call_sync(labelled_on_screen)
    panel = LabelPanel(project_ctx)
    qtbot.addWidget(panel)
    panel.reload()
    qtbot.waitUntil(lambda: panel.annotator.count() == 1, timeout=5000)
    panel.mode.setCurrentText("Only: helpful")
    panel.start_session()
    qtbot.waitUntil(lambda: panel.session.current is not None, timeout=5000)
    assert panel.total_before == 3  # the earlier skip is not a label
    qtbot.keyClick(panel.rows, Qt.Key.Key_S)
    qtbot.waitUntil(lambda: "in total" in panel.progress.text(), timeout=5000)
    qtbot.wait(200)
    assert "0 labels this session · 3 in total" in panel.progress.text()
    panel.undo()  # take the skip back (no label to subtract) and answer instead
    qtbot.waitUntil(lambda: panel.session.current is not None, timeout=5000)
    qtbot.wait(200)
    assert panel.session.labelled == 0
    qtbot.keyClick(panel.rows, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: "1 label this session · 4 in total" in panel.progress.text(), timeout=5000)


def test_pairs_left_in_the_queue_and_raw_text_toggle(qtbot, project_ctx):
    """Issue #13 labelling gaps: "N pairs left" in the current queue; a toggle shows the raw text of a response
    instead of rendered Markdown."""
    from PySide6.QtCore import Qt

    def project(s):
        from workbench.store.annotators import get_or_create_annotator
        from workbench.store.imports import import_records

        records = [PreferenceRecord(prompt=f"question {i}", chosen=f"**good** {i}", rejected=f"bad {i}", line=i + 1)
                   for i in range(5)]
        import_records(s, records, default_objective="helpful", source="prefs.jsonl")
        get_or_create_annotator(s, "me")

    project_ctx.db.call_sync(project)
    panel = LabelPanel(project_ctx)
    qtbot.addWidget(panel)
    panel.reload()
    qtbot.waitUntil(lambda: panel.annotator.count() == 1, timeout=5000)
    panel.order.setCurrentIndex(panel.order.findData("in_order"))
    panel.start_session()
    qtbot.waitUntil(lambda: "5 pairs left" in panel.progress.text(), timeout=5000)
    first = panel.pair_view.shown_pair_id
    qtbot.keyClick(panel.rows, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: panel.pair_view.shown_pair_id not in (None, first), timeout=5000)
    qtbot.waitUntil(lambda: "4 pairs left" in panel.progress.text(), timeout=5000)
    good = next(v for v in (panel.pair_view.left, panel.pair_view.right) if "good" in v.toPlainText())
    assert "**" not in good.toPlainText()  # rendered: bold, markup gone
    panel.raw_box.setChecked(True)
    assert good.toPlainText().startswith("**good**")
    panel.raw_box.setChecked(False)
    assert "**" not in good.toPlainText()


def test_pair_browser_filters_opens_and_relabels_and_agreement_jumps_there(qtbot, project_ctx):
    """Issue #13: a disputed pair found in the agreement dialog opens in the pair browser, where it is relabelled."""
    from workbench.store.labels import active_labels
    from workbench.ui.dialogs.agreement_dialog import AgreementDialog

    def disputed(s):
        from workbench.store.annotators import get_or_create_annotator
        from workbench.store.labels import add_label
        from workbench.store.objectives import list_objectives

        imported_project(s)
        helpful = next(o.id for o in list_objectives(s) if o.name == "helpful")
        me, you = get_or_create_annotator(s, "me").id, get_or_create_annotator(s, "you").id
        add_label(s, 2, helpful, me, "a")
        add_label(s, 2, helpful, you, "b")
        return helpful, me

    helpful, me = project_ctx.db.call_sync(disputed)
    agreement = AgreementDialog(project_ctx)
    qtbot.addWidget(agreement)
    qtbot.waitUntil(lambda: agreement.disputed.rowCount() >= 1, timeout=5000)
    browser = agreement.open_disputed(0)
    qtbot.addWidget(browser)
    qtbot.waitUntil(lambda: browser.current_pair == 2, timeout=5000)  # the one pair found is opened
    assert [r.pair_id for r in browser.rows] == [2] and browser.rows[0].disputed
    assert browser.label_for.currentData() == helpful
    browser.label_as.setCurrentIndex(browser.label_as.findData(me))
    assert browser.label_as.findText("prefs.jsonl") < 0  # the import's annotator does not label
    browser.relabel("b")
    # the import said a, you said b, and me now says b too (was a)
    qtbot.waitUntil(lambda: browser.rows[0].counts == {"a": 1, "b": 2}, timeout=5000)
    mine = project_ctx.db.call_sync(lambda s: active_labels(s, annotator_id=me))
    assert [(lab.pair_id, lab.choice) for lab in mine] == [(2, "b")]
    browser.search.setText("")
    browser.state.setCurrentIndex(browser.state.findData("unlabelled"))
    qtbot.waitUntil(lambda: browser.status.text() == "0 pairs", timeout=5000)  # every pair came labelled
    browser.objective.setCurrentIndex(browser.objective.findText("concise"))
    qtbot.waitUntil(lambda: len(browser.rows) == 5, timeout=5000)  # ... for helpful, none for concise


def test_choose_which_objectives_to_label_now(qtbot, project_ctx):
    """Issue #13: besides all objectives or one, the person ticks the objectives each screen asks about."""
    from workbench.store.objectives import add_objective

    project_ctx.db.call_sync(imported_project)
    project_ctx.db.call_sync(add_objective, "harmless")
    panel = LabelPanel(project_ctx)
    qtbot.addWidget(panel)
    panel.reload()
    qtbot.waitUntil(lambda: panel.annotator.count() == 1 and panel.mode.count() == 5, timeout=5000)
    assert panel.mode.itemText(4) == "Choose objectives…"
    dlg = panel.choose_objectives_dialog()  # deleted on close (a child of the panel)
    from PySide6.QtWidgets import QCheckBox

    boxes = {b.text(): b for b in dlg.findChildren(QCheckBox)}
    assert sorted(boxes) == ["concise", "harmless", "helpful"] and all(b.isChecked() for b in boxes.values())
    boxes["concise"].setChecked(False)
    dlg.accept()
    assert panel.mode.currentText() == "Objectives: helpful, harmless"
    panel.start_session()
    assert [o.name for o in panel.session_objectives] == ["helpful", "harmless"]
    qtbot.waitUntil(lambda: panel.session.current is not None, timeout=5000)
    assert len(panel.session.objective_ids) == 2


def test_the_pair_browsers_filters_show_their_whole_text(qtbot, project_ctx):
    """Found under Xvfb: opened from the Label panel, the browser's filters read "All objecti", "Any anno": they
    were sized when shown, before their items arrived, and the search box took the rest."""
    from workbench.ui.dialogs.pair_browser import PairBrowser

    project_ctx.db.call_sync(imported_project)
    browser = PairBrowser(project_ctx)
    qtbot.addWidget(browser)
    browser.show()  # shown at once, as Pairs… does; the items come from the DB thread afterwards
    qtbot.waitUntil(lambda: browser.objective.count() > 1 and browser.annotator.count() > 1, timeout=5000)
    qtbot.wait(50)
    for combo in (browser.objective, browser.state, browser.annotator):
        longest = max(combo.fontMetrics().horizontalAdvance(combo.itemText(i)) for i in range(combo.count()))
        assert combo.width() > longest, combo.currentText()


def test_agreement_without_overlap_or_screen_labels_says_what_it_needs(qtbot, project_ctx):
    """On an imported project (labels with no screen side, one annotator per pair) the dialog printed "n/a of 0
    decisive labels ... binomial p = 1.000" and "ε = n/a (... over 0 annotator pairs on 0 pairs)"."""
    from workbench.ui.dialogs.agreement_dialog import AgreementDialog

    project_ctx.db.call_sync(imported_project)
    dialog = AgreementDialog(project_ctx)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.bias.text() != "" and dialog.flip.text() != "", timeout=5000)
    assert dialog.bias.text() == "Position bias: no label made on screen yet (imported labels have no screen side)"
    assert dialog.flip.text().startswith("Estimated flip rate ε: needs pairs labelled by two or more annotators")
    assert not dialog.use_eps.isEnabled()
