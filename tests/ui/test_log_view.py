"""The run log follows new lines while it is scrolled to the bottom, and keeps a reader's place otherwise
(issue #13 bug 8)."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractSlider

from workbench.ui.widgets.log_view import LogView


def test_log_follows_new_lines_at_the_bottom_and_keeps_a_readers_place(qtbot):
    view = LogView()
    qtbot.addWidget(view)
    view.resize(400, 120)
    view.show()
    view.set_lines([f"line {i}" for i in range(200)])
    bar = view.verticalScrollBar()
    assert bar.maximum() > 0 and bar.value() == bar.maximum()
    for i in range(50):
        view.append_line(f"new {i}")
    assert bar.value() == bar.maximum()
    bar.triggerAction(QAbstractSlider.SliderAction.SliderPageStepSub)  # the reader scrolled up
    qtbot.wait(10)
    kept = bar.value()
    assert kept < bar.maximum()
    view.append_line("one more")
    assert bar.value() == kept
    bar.triggerAction(QAbstractSlider.SliderAction.SliderToMaximum)  # ... and back down: following again
    qtbot.wait(10)
    view.append_line("and another")
    assert bar.value() == bar.maximum()


def test_a_log_filled_while_hidden_shows_its_newest_lines(qtbot):
    from PySide6.QtWidgets import QTabWidget, QWidget

    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    view = LogView()
    tabs.addTab(QWidget(), "plots")
    tabs.addTab(view, "log")
    tabs.resize(400, 150)
    tabs.show()
    view.set_lines(["start"])
    for i in range(100):
        view.append_line(f"step {i} " + "x" * 30)
    tabs.setCurrentIndex(1)
    qtbot.wait(20)
    for i in range(3):
        view.append_line(f"more {i}")
    bar = view.verticalScrollBar()
    assert bar.value() == bar.maximum()
