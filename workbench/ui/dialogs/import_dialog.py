"""Import dialog and the chunked import job behind it.

The dialog: files (picked or dropped), each with its format (auto-detected, changeable; pair formats and the
step-labelled ones of workbench.formats.step_registry) and the objective used for records whose file does not name
one (always, for step labels). The job parses and stores on the DB thread in chunks of CHUNK records, so
the window stays responsive and shows progress for big files; a bad record is reported with its file and line in
a readable list (InputError), never as a traceback. The readers check the whole file first, so a file with a bad
line stores nothing; each stored chunk is one transaction, and importing a file again skips what is already there
(duplicates, listed by line).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QPushButton,
                               QTableWidget, QVBoxLayout, QWidget)

from workbench.core.errors import InputError, WorkbenchError

CHUNK = 2000
READ_SHARE = 0.5  # share of the progress bar for parsing the file (the rest: storing it chunk by chunk)
NEW_OBJECTIVE = "helpful"


# --- formats (workbench.formats.registry: FORMATS, detect_format, read_dataset; step formats: step_registry) ---
def format_names() -> list[str]:
    from workbench.formats.registry import FORMATS
    from workbench.formats.step_registry import STEP_FORMATS

    return [*FORMATS, *STEP_FORMATS]


def detect(path: str) -> str | None:
    """The detected format's name, or None when the first record does not tell (the user then picks one)."""
    from workbench.formats.registry import detect_format
    from workbench.formats.step_registry import sniff_step_format

    try:
        step_format = sniff_step_format(path)
        return step_format.name if step_format is not None else detect_format(path).name
    except WorkbenchError:
        return None


def read_records(path: str, fmt: str, state: dict[str, float] | None = None) -> Iterator[Any]:
    """Parse and check the whole file (readers report every bad line before anything is stored); `state["read"]`
    follows the fraction of bytes read, for the progress bar (written on the DB thread, read on the UI thread)."""
    from workbench.formats.registry import read_dataset

    def progress(done: int, size: int) -> None:
        if state is not None:
            state["read"] = done / max(size, 1)

    return iter(read_dataset(path, fmt, progress))


# --- the job (DB thread) --------------------------------------------------------------------------------------
@dataclass
class FileOutcome:
    """What importing one file did: counts, skipped duplicates (by line) and errors ("line N: message")."""

    path: str
    pairs: int = 0
    labels: int = 0
    unpaired: int = 0
    duplicates: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    objectives_created: list[str] = field(default_factory=list)
    solutions: int = 0  # step-labelled files (issue #17): solutions, their step labels, those already there
    step_labels: int = 0
    known_solutions: int = 0

    def summary(self) -> str:
        name = Path(self.path).name
        if self.solutions or self.step_labels or self.known_solutions:
            text = f"{name}: {self.solutions} step-labelled solutions, {self.step_labels} step labels"
            if self.known_solutions:
                text += f", {self.known_solutions} already in the project"
            return text + (f", {len(self.errors)} error(s)" if self.errors else "")
        text = f"{name}: {self.pairs} pairs, {self.labels} labels"
        if self.unpaired:
            text += f", {self.unpaired} unpaired"
        if self.duplicates:
            text += f", {len(self.duplicates)} duplicates skipped"
        return text + (f", {len(self.errors)} error(s)" if self.errors else "")


def count_lines(path: str) -> int:
    """Lines in the file, or rows of a Parquet file / datasets folder / hub dataset (progress denominator); cheap
    even for big files (read in 1 MiB blocks; Parquet: its footer)."""
    from workbench.formats.tabular import is_table_source, row_count

    if is_table_source(path):
        return max(row_count(path), 1)
    n = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return max(n, 1)


def import_chunk(s, records: Iterator[Any], default_objective: str, source: str
                 ) -> tuple[Any, int, InputError | None]:
    """Read up to CHUNK records and store them in this session's transaction.

    Returns (ImportReport | None when the file is exhausted, last line read, the InputError that stopped the
    reader or None). Records read before a bad one are still stored, so an error on line 90,001 keeps 90,000.
    """
    from workbench.store.imports import import_records

    batch: list[Any] = []
    error: InputError | None = None
    try:
        for record in itertools.islice(records, CHUNK):
            batch.append(record)
    except InputError as exc:
        error = exc
    if not batch:
        return None, 0, error
    report = import_records(s, batch, default_objective=default_objective, source=source)
    return report, max(getattr(r, "line", 0) for r in batch), error


async def import_file(db, path: str, fmt: str, objective: str,
                      progress: Callable[[float], None] = lambda _: None) -> FileOutcome:
    """Import one file chunk by chunk on the DB thread, calling progress(fraction) between chunks."""
    from workbench.formats.step_registry import STEP_FORMATS

    if fmt in STEP_FORMATS:
        return await import_step_file(db, path, fmt, objective, progress)
    out = FileOutcome(path)
    try:
        total = await db.call_plain(count_lines, path)
        state = {"read": 0.0}
        reading = asyncio.wrap_future(db.submit_plain(read_records, path, fmt, state))
        while not reading.done():  # parsing is the first half of the bar, storing the second
            progress(READ_SHARE * state["read"])
            await asyncio.wait([reading], timeout=0.1)
        records = reading.result()
        while True:
            report, last, error = await db.call(import_chunk, records, objective, Path(path).name)
            if report is not None:
                out.pairs += report.pairs_added
                out.labels += report.labels_added
                out.unpaired += report.unpaired_added
                out.duplicates.extend(report.duplicates)
                out.objectives_created.extend(report.objectives_created)
                progress(READ_SHARE + (1 - READ_SHARE) * min(1.0, last / total))
            if error is not None:
                raise error
            if report is None:
                break
    except InputError as exc:
        out.errors.append((f"line {exc.line}: " if exc.line else "") + _message_only(exc))
    except (WorkbenchError, OSError) as exc:
        out.errors.append(str(exc))
    progress(1.0)
    return out


def read_step_records(path: str, fmt: str, state: dict[str, float]) -> list[Any]:
    from workbench.formats.step_registry import read_stepwise

    def progress(done: int, size: int) -> None:
        state["read"] = done / max(size, 1)

    return read_stepwise(path, fmt, progress)


async def import_step_file(db, path: str, fmt: str, objective: str,
                           progress: Callable[[float], None] = lambda _: None) -> FileOutcome:
    """A step-labelled file: read and check it all, then store it in one transaction (all or nothing), as
    `workbench import` does (cli.import_steps: the same annotator and messages)."""
    from workbench.store.step_files import store_records

    out = FileOutcome(path)
    try:
        state = {"read": 0.0}
        reading = asyncio.wrap_future(db.submit_plain(read_step_records, path, fmt, state))
        while not reading.done():
            progress(READ_SHARE * state["read"])
            await asyncio.wait([reading], timeout=0.1)
        records = reading.result()
        if not records:
            raise InputError("the file holds no step-labelled solutions to import", path=path)
        progress(READ_SHARE)
        report = await db.call(store_records, records, objective, None, Path(path).name, path)
        out.solutions, out.step_labels = report.responses_added, report.labels_added
        out.known_solutions = len(report.duplicates)
        if report.objective_created:
            out.objectives_created.append(objective)
    except InputError as exc:
        out.errors.append((f"line {exc.line}: " if exc.line else "") + _message_only(exc))
    except (WorkbenchError, OSError) as exc:
        out.errors.append(str(exc))
    progress(1.0)
    return out


def _message_only(exc: InputError) -> str:
    text = str(exc)
    prefix = f"{exc.path}:{exc.line}: " if exc.path and exc.line else (f"{exc.path}: " if exc.path else "")
    return text[len(prefix):] if prefix and text.startswith(prefix) else text


# --- the dialog -----------------------------------------------------------------------------------------------
class ImportDialog(QDialog):
    """Files + per-file format + default objective. `choices()` gives [(path, format, objective)]."""

    def __init__(self, paths: list[str], objectives: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import preference data")
        self.objectives = objectives or [NEW_OBJECTIVE]
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Format", "Objective (when the file names none)"])
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        add = QPushButton("Add files…")
        add.clicked.connect(self.pick_files)
        folder = QPushButton("Add datasets folder…")
        folder.setToolTip("A folder written by datasets' save_to_disk (needs the datasets package)")
        folder.clicked.connect(self.pick_folder)
        hub = QPushButton("From the hub…")
        hub.setToolTip("A Hugging Face hub dataset by id and split, e.g. HuggingFaceH4/ultrafeedback_binarized"
                       ":train_prefs (needs the datasets package and a network)")
        hub.clicked.connect(self.ask_hub_id)
        self.hint = QLabel("Formats are detected from the file; change them if the guess is wrong.")
        self.hint.setObjectName("hint")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        for b in (add, folder, hub):
            row.addWidget(b)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addWidget(self.hint)
        layout.addWidget(self.buttons)
        self.resize(720, 320)
        self.add_files(paths)

    def pick_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import preference data", "",
                                                "Datasets (*.jsonl *.json *.csv *.tsv *.parquet);;All files (*)")
        self.add_files(paths)

    def pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "A datasets folder (save_to_disk)")
        if path:
            self.add_files([path])

    def ask_hub_id(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        text, ok = QInputDialog.getText(self, "Hub dataset", "Dataset id and split (org/name:split; the split "
                                        "defaults to train):")
        if ok and text.strip():
            from workbench.formats.tabular import HUB_PREFIX

            self.add_files([HUB_PREFIX + text.strip().removeprefix(HUB_PREFIX)])

    def add_files(self, paths: list[str]) -> None:
        names = format_names()
        for path in paths:
            r = self.table.rowCount()
            self.table.insertRow(r)
            item = QLabel(path if path.startswith("hf:") else Path(path).name)
            item.setToolTip(path)
            item.setProperty("path", path)
            self.table.setCellWidget(r, 0, item)
            fmt = QComboBox()
            fmt.addItems(names)
            found = detect(path)
            if found in names:
                fmt.setCurrentText(found)
            else:
                fmt.setToolTip("Could not detect the format: choose it")
                self.hint.setText(f"Could not tell the format of {Path(path).name} from its first record: "
                                  "choose it in the list.")
            self.table.setCellWidget(r, 1, fmt)
            obj = QComboBox()
            obj.setEditable(True)  # typing a new name creates that objective
            obj.addItems(self.objectives)
            self.table.setCellWidget(r, 2, obj)
        self.table.resizeColumnsToContents()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(self.table.rowCount() > 0)

    def choices(self) -> list[tuple[str, str, str]]:
        out = []
        for r in range(self.table.rowCount()):
            path = self.table.cellWidget(r, 0).property("path")
            out.append((path, self.table.cellWidget(r, 1).currentText(),
                        self.table.cellWidget(r, 2).currentText().strip() or NEW_OBJECTIVE))
        return out
