"""Asking, every time, before a model repository's own Python code runs (`trust_remote_code`, issue #12;
core/remote_code.py). The question names the repository; the answer is never stored."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from PySide6.QtWidgets import QMessageBox, QWidget

from workbench.core.remote_code import remote_code_request


def _box(parent: QWidget | None, repository: str) -> QMessageBox:
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Run the model's own code?")
    box.setText(f"The model {repository} asks to run Python code from its repository (trust_remote_code).")
    box.setInformativeText("That code runs on this computer with your permissions. Allow it only if you trust the "
                           "model's authors. This setting may have come with a project someone sent you; "
                           "you are asked every time the model is loaded.")
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.button(QMessageBox.StandardButton.Yes).setText("Run Its Code")
    box.setDefaultButton(QMessageBox.StandardButton.No)
    return box


def ask_remote_code(parent: QWidget | None, config: Mapping[str, object]) -> bool | None:
    """False when `config` asks for no remote code; True when the user allows it now; None when they refuse
    (the caller then does not load). Blocks: for plain slots, not inside coroutines (use ask_remote_code_async)."""
    repository = remote_code_request(config)
    if repository is None:
        return False
    return True if _box(parent, repository).exec() == QMessageBox.StandardButton.Yes else None


async def ask_remote_code_async(parent: QWidget | None, config: Mapping[str, object]) -> bool | None:
    """ask_remote_code for coroutines: the box is opened (not exec'd, qasync #59) and awaited."""
    repository = remote_code_request(config)
    if repository is None:
        return False
    box = _box(parent, repository)
    answer: asyncio.Future[int] = asyncio.get_event_loop().create_future()
    box.finished.connect(lambda code: answer.done() or answer.set_result(code))
    box.open()
    code = await answer
    box.deleteLater()
    return True if code == QMessageBox.StandardButton.Yes else None
