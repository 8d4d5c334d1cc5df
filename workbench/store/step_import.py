"""Bulk import of step-labelled solutions (core.steps.StepwiseRecord) into a project (issue #17).

What a record becomes, and the all-or-nothing rule: store.step_records (its module docstring is the contract the
step formats rely on). How: built for PRM800K-sized files like store.imports — prompts and responses are
deduplicated and created with a few bulk statements (imports._Texts), steps, splits, labels and reference
answers go in with one executemany per table and explicit ids, and the annotator's active labels of the touched
steps are read once, so re-importing a file adds nothing and relabelling supersedes (history kept).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from workbench.core.errors import InputError
from workbench.core.step_labels import IMPORTED
from workbench.core.steps import Step, StepSplit, StepwiseRecord, split_steps
from workbench.store import step_labels as sl
from workbench.store.clock import utcnow
from workbench.store.imports import _insert, _lookup, _next_id, _stamp, _Texts
from workbench.store.schema import PromptAnswerRow, ResponseRow, StepLabelRow, StepRow, StepSplitRow


@dataclass(frozen=True)
class StepImportReport:
    """What `import_stepwise` added; `duplicates` are the 1-based numbers of records already in the project."""

    records: int = 0
    responses_added: int = 0
    steps_added: int = 0
    labels_added: int = 0
    duplicates: tuple[int, ...] = ()
    objective_created: bool = False


def response_text(steps: Sequence[str]) -> tuple[str, list[Step]]:
    """The response text of given steps (joined by "\\n", or "\\n\\n" when a step holds a line break) and each
    step's span in it."""
    sep = "\n\n" if any("\n" in st for st in steps) else "\n"
    spans, pos = [], 0
    for i, st in enumerate(steps):
        spans.append(Step(i, st, pos, pos + len(st)))
        pos += len(st) + len(sep)
    return sep.join(steps), spans


def split_mode_of(text: str, steps: Sequence[str]) -> str:
    """"line" or "paragraph" when that rule gives back exactly these steps from the text, else "imported"."""
    for mode in ("line", "paragraph"):
        if [st.text for st in split_steps(text, StepSplit(mode))] == list(steps):  # type: ignore[arg-type]
            return mode
    return IMPORTED


def check_records(records: Sequence[StepwiseRecord]) -> None:
    """Every record usable, or InputError naming the first bad one (nothing is written before this passes)."""
    for n, rec in enumerate(records, start=1):
        problem = ""
        if not isinstance(rec, StepwiseRecord):
            problem = f"expected a step-labelled solution, got {type(rec).__name__}"
        elif not isinstance(rec.prompt, str) or not rec.prompt.strip():
            problem = "the prompt is empty"
        elif not rec.steps:
            problem = "the solution has no steps"
        else:
            for i, st in enumerate(rec.steps, start=1):
                if not isinstance(st, str) or not st.strip():
                    problem = f"step {i} is empty"
                    break
        if problem:
            raise InputError(f"record {n}: {problem}; nothing was imported. Fix or remove that record.", line=n)


class _Writer:
    """Rows to insert, with explicit ids, and the annotator's active labels of the steps in play."""

    def __init__(self, s: Session, objective_id: int, annotator_id: int) -> None:
        self.s, self.objective_id, self.annotator_id = s, objective_id, annotator_id
        self.now = _stamp(utcnow())
        self.steps: dict[int, list[tuple[int, str]]] = {}  # response id -> [(step id, text)] by index
        self.active: dict[int, tuple[int, int | None]] = {}  # step id -> (label id, rating) of this annotator
        self.split_rows: list[dict[str, Any]] = []
        self.step_rows: list[dict[str, Any]] = []
        self.label_rows: dict[int, dict[str, Any]] = {}  # new label id -> row
        self.superseded: list[int] = []  # ids of stored labels that new ones replace
        self.created: set[int] = set()  # responses split by this import
        self.next_split, self.next_step = _next_id(s, StepSplitRow), _next_id(s, StepRow)
        self.next_label = _next_id(s, StepLabelRow)

    def load(self, response_ids: list[int]) -> None:
        rows = _lookup(self.s, "SELECT response_id, idx, id, text FROM step WHERE response_id IN ({})", response_ids)
        for response_id, idx, step_id, text in sorted(rows):
            self.steps.setdefault(response_id, []).append((step_id, text))
        step_ids = [step_id for r in self.steps.values() for step_id, _ in r]
        sql = ("SELECT step_id, id, rating FROM step_label WHERE superseded_at IS NULL AND objective_id = "
               f"{int(self.objective_id)} AND annotator_id = {int(self.annotator_id)} AND step_id IN ({{}})")
        self.active = {step_id: (label_id, rating) for step_id, label_id, rating in _lookup(self.s, sql, step_ids)}

    def ensure_steps(self, n: int, response_id: int, rec: StepwiseRecord, text: str, spans: list[Step],
                     source: str) -> int:
        """The response's steps as the record gives them; returns how many steps were added."""
        have = self.steps.get(response_id)
        if have is not None and [t for _, t in have] == list(rec.steps):
            return 0
        if have is not None:  # split differently before: re-split while nothing is labelled, else refuse
            if response_id in self.created:
                raise InputError(f"record {n}: an earlier record has the same solution split into other steps; "
                                 "nothing was imported. Keep one of the two.", line=n)
            labelled = sl.step_label_count(self.s, response_id)
            if labelled:
                raise InputError(f"record {n}: response {response_id} is already split into other steps and they "
                                 f"have {labelled} label{'s' if labelled != 1 else ''}: its split stays so that no "
                                 "label loses its step; nothing was imported.", line=n)
            self.s.execute(StepRow.__table__.delete().where(StepRow.response_id == response_id))
            self.s.execute(StepSplitRow.__table__.delete().where(StepSplitRow.response_id == response_id))
        self.split_rows.append({"id": self.next_split, "response_id": response_id,
                                "mode": split_mode_of(text, rec.steps), "pattern": "", "source": source,
                                "meta": json.dumps(rec.meta, ensure_ascii=False), "created_at": self.now})
        self.next_split += 1
        self.steps[response_id] = []
        self.created.add(response_id)
        for span in spans:
            self.step_rows.append({"id": self.next_step, "response_id": response_id, "idx": span.index,
                                   "text": span.text, "start_char": span.start, "end_char": span.end})
            self.steps[response_id].append((self.next_step, span.text))
            self.next_step += 1
        return len(spans)

    def rate(self, response_id: int, ratings: Sequence[int | None]) -> int:
        """New labels for the rated steps whose active rating differs; returns how many."""
        added = 0
        for (step_id, _), rating in zip(self.steps[response_id], ratings):
            if rating is None:
                continue
            previous = self.active.get(step_id)
            if previous is not None and previous[1] == rating:
                continue
            if previous is not None:
                if previous[0] in self.label_rows:  # a label of this same file: it becomes history
                    self.label_rows[previous[0]]["superseded_at"] = self.now
                else:
                    self.superseded.append(previous[0])
            self.label_rows[self.next_label] = {
                "id": self.next_label, "step_id": step_id, "objective_id": self.objective_id,
                "annotator_id": self.annotator_id, "rating": rating, "first_error": False, "created_at": self.now,
                "superseded_at": None, "replaces_id": previous[0] if previous is not None else None}
            self.active[step_id] = (self.next_label, rating)
            self.next_label += 1
            added += 1
        return added

    def flush(self) -> None:
        con = self.s.connection()
        if self.superseded:  # before the inserts: the partial unique index allows one active label per step
            con.exec_driver_sql("UPDATE step_label SET superseded_at = ? WHERE id = ?",
                                [(self.now, i) for i in self.superseded])
        _insert(self.s, StepSplitRow, self.split_rows)
        _insert(self.s, StepRow, self.step_rows)
        _insert(self.s, StepLabelRow, list(self.label_rows.values()))


def _save_answers(s: Session, answers: dict[int, tuple[str, str]]) -> None:
    """prompt id -> (reference answer, source): inserted or updated where it differs."""
    known = {pid: answer for pid, answer in _lookup(s, "SELECT prompt_id, answer FROM prompt_answer "
                                                       "WHERE prompt_id IN ({})", sorted(answers))}
    con = s.connection()
    new = [{"prompt_id": pid, "answer": a, "source": src} for pid, (a, src) in answers.items() if pid not in known]
    _insert(s, PromptAnswerRow, new)
    changed = [(a, src, pid) for pid, (a, src) in answers.items() if pid in known and known[pid] != a]
    if changed:
        con.exec_driver_sql("UPDATE prompt_answer SET answer = ?, source = ? WHERE prompt_id = ?", changed)


def write_records(s: Session, records: Sequence[StepwiseRecord], objective_id: int, annotator_id: int,
                  source: str) -> StepImportReport:
    """The writes of store.step_records.import_stepwise (checked records, inside its savepoint)."""
    texts = _Texts(source)
    keys = []
    for rec in records:
        text, spans = response_text(rec.steps)
        prompt_hash = texts.prompt(rec.prompt)
        keys.append((prompt_hash, texts.response(prompt_hash, text), text, spans))
    first_new_response = _next_id(s, ResponseRow)
    texts.save(s)
    ids = [texts.ids(ph, rh) for ph, rh, _, _ in keys]
    writer = _Writer(s, objective_id, annotator_id)
    writer.load(sorted({rid for _, rid in ids}))
    answers: dict[int, tuple[str, str]] = {}
    seen_new: set[int] = set()
    added_responses = steps_added = labels_added = 0
    duplicates = []
    for n, (rec, (pid, rid), (_, _, text, spans)) in enumerate(zip(records, ids, keys), start=1):
        new_response = rid >= first_new_response and rid not in seen_new
        seen_new.add(rid)
        added = writer.ensure_steps(n, rid, rec, text, spans, source or rec.source)
        labels = writer.rate(rid, rec.ratings)
        if rec.reference_answer.strip():
            answers[pid] = (rec.reference_answer.strip(), source or rec.source)
        added_responses, steps_added, labels_added = (added_responses + new_response, steps_added + added,
                                                      labels_added + labels)
        if not new_response and not added and not labels:
            duplicates.append(n)
    writer.flush()
    _save_answers(s, answers)
    return StepImportReport(len(records), added_responses, steps_added, labels_added, tuple(duplicates))
