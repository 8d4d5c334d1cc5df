"""The first screen (issue #13): shown instead of the panels while no project is open. Recent projects (double-click
or Enter opens one), New / Open, "Open the demo project", and how to get a model without a network."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from workbench import APP_NAME
from workbench.services.first_steps import smollm2_status


class WelcomePage(QWidget):
    """`open_path(path)`, `new_project()`, `open_project()` and `open_demo()` are the window's actions."""

    def __init__(self, recent: Callable[[], list[str]], *, open_path: Callable[[str], object],
                 new_project: Callable[[], object], open_project: Callable[[], object],
                 open_demo: Callable[[], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recent = recent
        self.open_path = open_path
        title = QLabel(f"<h2>{APP_NAME}</h2>Label preference pairs per objective, train LoRA DPO-family runs on "
                       "this computer, and watch the trade-offs between objectives.")
        title.setWordWrap(True)
        self.new_button = QPushButton("New project…")
        self.new_button.clicked.connect(new_project)
        self.open_button = QPushButton("Open project…")
        self.open_button.clicked.connect(open_project)
        self.demo_button = QPushButton("Open the demo project")
        self.demo_button.setToolTip("About 200 bundled question/answer pairs labelled for two objectives (brevity, "
                                    "detail) and scorers that rate them: everything is ready to train")
        self.demo_button.clicked.connect(open_demo)
        buttons = QHBoxLayout()
        for b in (self.new_button, self.open_button, self.demo_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.recent_list = QListWidget()
        self.recent_list.itemActivated.connect(lambda item: self.open_path(item.data(Qt.ItemDataRole.UserRole)))
        recent_box = QGroupBox("Recent projects")
        QVBoxLayout(recent_box).addWidget(self.recent_list)
        self.models_label = QLabel()
        self.models_label.setWordWrap(True)
        self.models_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        models_box = QGroupBox("A model without internet")
        QVBoxLayout(models_box).addWidget(self.models_label)
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.status.setWordWrap(True)
        column = QVBoxLayout()
        column.addWidget(title)
        column.addLayout(buttons)
        column.addWidget(recent_box, 1)
        column.addWidget(models_box)
        column.addWidget(self.status)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 4)
        outer.addStretch(1)
        self.refresh()

    def refresh(self) -> None:
        self.recent_list.clear()
        for path in self.recent():
            item = QListWidgetItem(f"{Path(path).name}    {Path(path).parent}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            self.recent_list.addItem(item)
        if self.recent_list.count():
            self.recent_list.setCurrentRow(0)
        else:
            self.recent_list.addItem("(no recent projects: create one, or open the demo project)")
            self.recent_list.item(0).setFlags(Qt.ItemFlag.NoItemFlags)
        _, smollm2 = smollm2_status()
        self.models_label.setText(f"{smollm2} Or build a tiny test model (Models panel ▸ Models without internet) "
                                  "to try every step in seconds; its text is meaningless. With internet, add any "
                                  "hub id, e.g. HuggingFaceTB/SmolLM2-135M-Instruct.")
