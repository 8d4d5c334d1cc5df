"""Bulk import of preference records (from `workbench.formats`) into a project.

Built for 100,000-record datasets: every table is written with one executemany per chunk, and deduplication uses
the indexed sha1 columns (`prompt.text_hash`, `response(prompt_id, text_hash)`) looked up in chunks, never one
query per record. Everything happens in the caller's transaction, so an import is all or nothing.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.core.entities import Messages, PreferenceRecord, UnpairedRecord
from workbench.core.errors import InputError
from workbench.store.annotators import get_or_create_annotator, mark_import_annotator
from workbench.store.clock import utcnow
from workbench.store.objectives import get_or_create_objective, list_objectives
from workbench.store.pairs import SHUFFLE_BITS, content_fields, messages_json, refresh_labelled_by
from workbench.store.schema import LabelRow, PairRow, PromptRow, ResponseRow, UnpairedFeedbackRow

CHUNK = 900  # bound parameters per IN (...) query, well under SQLite's limit
T = TypeVar("T")


@dataclass(frozen=True)
class ImportReport:
    """What an import added; `duplicates` are the line numbers of records already in the project."""

    pairs_added: int = 0
    labels_added: int = 0
    unpaired_added: int = 0
    duplicates: tuple[int, ...] = ()
    objectives_created: tuple[str, ...] = ()


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


def _lookup(s: Session, sql: str, keys: Sequence[Any]) -> list[Any]:
    """Rows of `sql` (which ends in `IN ({})`) for the keys, a chunk at a time, with plain driver placeholders:
    at 100,000 keys, compiling a SQLAlchemy IN clause per chunk costs more than running the query."""
    con = s.connection()
    rows: list[Any] = []
    for chunk in _chunks(keys):
        rows.extend(con.exec_driver_sql(sql.format(",".join("?" * len(chunk))), tuple(chunk)).fetchall())
    return rows


_ENCODER = json.JSONEncoder(ensure_ascii=False)  # built once: json.dumps(..., ensure_ascii=False) builds one per call
_quote = json.encoder.encode_basestring
_SCALARS = {str: _quote, int: int.__repr__, float: float.__repr__, bool: lambda b: "true" if b else "false",
            type(None): lambda _: "null"}


def _flat_dict_json(value: dict[str, Any]) -> str:
    """`json.dumps(value, ensure_ascii=False)` of a dict of string keys to finite scalars, written directly (a
    TRL row's score_chosen, prompt_id, ...); anything else through the shared encoder."""
    parts = []
    for key, item in value.items():
        write = _SCALARS.get(type(item))
        if type(key) is not str or write is None or (type(item) is float and not math.isfinite(item)):
            return _ENCODER.encode(value)
        parts.append(_quote(key) + ": " + write(item))
    return "{" + ", ".join(parts) + "}"


def _json(value: Any) -> str | None:
    """JSON text as the JSON columns store it (None stays SQL NULL), character for character what json.dumps
    writes: chat messages through `messages_json`, pair extras through `_flat_dict_json`. json.dumps with options
    builds an encoder per call, a noticeable part of a 100,000-pair import."""
    if value is None:
        return None
    if isinstance(value, list):
        return messages_json(value)
    return _flat_dict_json(value) if value else "{}"


def _stamp(value: datetime) -> str:
    """A datetime as SQLAlchemy's SQLite DateTime type stores it, so the ORM reads it back unchanged."""
    return value.isoformat(sep=" ", timespec="microseconds")


def _insert(s: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """Bulk insert with one driver-level executemany. SQLAlchemy's per-row parameter processing (ORM or Core)
    costs several times more than SQLite itself at 100,000 rows, so rows arrive driver-ready: JSON columns as
    `_json` text, times as `_stamp` text, and every row with the same keys in the same order."""
    if not rows:
        return
    columns = list(rows[0])
    sql = (f"INSERT INTO {table.__tablename__} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    s.connection().exec_driver_sql(sql, [tuple(row.values()) for row in rows])


def _next_id(s: Session, table: Any) -> int:
    """The first free id: new rows get explicit ids, so nothing has to be read back after inserting them.
    (The GUI process is the project's only writer, DESIGN.md §2; a concurrent writer would fail on the key.)"""
    return int(s.scalar(select(func.max(table.id))) or 0) + 1


class _Texts:
    """Collects prompt and response contents, then creates the missing ones with a few bulk statements."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.prompts: dict[str, tuple[str, Messages | None]] = {}
        self.responses: dict[tuple[str, str], tuple[str, Messages | None]] = {}
        self.prompt_ids: dict[str, int] = {}
        self.response_ids: dict[tuple[int, str], int] = {}

    def prompt(self, value: str | Messages) -> str:
        text, msgs, digest = content_fields(value)
        self.prompts.setdefault(digest, (text, msgs))
        return digest

    def response(self, prompt_hash: str, value: str | Messages) -> str:
        text, msgs, digest = content_fields(value)
        self.responses.setdefault((prompt_hash, digest), (text, msgs))
        return digest

    def save(self, s: Session) -> None:
        self.prompt_ids = {h: i for i, h in _lookup(s, "SELECT id, text_hash FROM prompt WHERE text_hash IN ({})",
                                                    list(self.prompts))}
        next_id, rows = _next_id(s, PromptRow), []
        for digest, (text, msgs) in self.prompts.items():
            if digest not in self.prompt_ids:
                self.prompt_ids[digest] = next_id
                rows.append({"id": next_id, "text": text, "messages": _json(msgs), "source": self.source,
                             "text_hash": digest})
                next_id += 1
        _insert(s, PromptRow, rows)
        existing = {p for p in self.prompt_ids.values() if p < rows[0]["id"]} if rows else set(self.prompt_ids.values())
        self.response_ids = {(p, h): i for i, p, h in _lookup(
            s, "SELECT id, prompt_id, text_hash FROM response WHERE prompt_id IN ({})", sorted(existing))}
        next_id, rows = _next_id(s, ResponseRow), []
        for (prompt_hash, digest), (text, msgs) in self.responses.items():
            key = (self.prompt_ids[prompt_hash], digest)
            if key not in self.response_ids:
                self.response_ids[key] = next_id
                rows.append({"id": next_id, "prompt_id": key[0], "text": text, "messages": _json(msgs),
                             "model": "", "generation": "{}", "text_hash": digest})
                next_id += 1
        _insert(s, ResponseRow, rows)

    def ids(self, prompt_hash: str, response_hash: str) -> tuple[int, int]:
        pid = self.prompt_ids[prompt_hash]
        return pid, self.response_ids[(pid, response_hash)]


def _objective_ids(s: Session, records: Sequence[Any], default: str | None, source: str
                   ) -> tuple[dict[str | None, int], tuple[str, ...]]:
    """Objective id per record objective name (key None = records that name none: the default objective)."""
    before = {o.name for o in list_objectives(s)}
    ids: dict[str | None, int] = {}
    created: list[str] = []
    for rec in records:
        if rec.objective in ids:
            continue
        name = rec.objective or default
        if not name:
            raise InputError("the record does not say which objective it is for: pick a default objective",
                             path=source, line=rec.line)
        ids[rec.objective] = get_or_create_objective(s, name).id
        if name not in before and name not in created:
            created.append(name)
    return ids, tuple(created)


def _ensure_pairs(s: Session, wanted: dict[tuple[int, int, int], tuple[str, dict[str, Any]]]
                  ) -> tuple[dict[tuple[int, int, int], int], int, int]:
    """Ids of the pairs (prompt, a, b), creating missing ones; a stored (prompt, b, a) is reported as -id.

    Also returns how many pairs were created and the first created id (created ids are consecutive). Created
    pairs are written with labelled_by = 1: each is wanted because a record labels it, and this import's one
    annotator is then its only labeller, so `refresh_labelled_by` only has to recount the pairs that existed.
    """
    found = {(p, a, b): i for i, p, a, b in _lookup(
        s, "SELECT id, prompt_id, response_a_id, response_b_id FROM pair WHERE prompt_id IN ({})",
        sorted({k[0] for k in wanted}))}
    out: dict[tuple[int, int, int], int] = {}
    rng, now, next_id = random.Random(), _stamp(utcnow()), _next_id(s, PairRow)
    first_new = next_id
    rows: list[dict[str, Any]] = []
    for key, (source, extra) in wanted.items():
        swapped = (key[0], key[2], key[1])
        if key in found:
            out[key] = found[key]
        elif swapped in found:  # the same two responses the other way round: the same pair
            out[key] = -found[swapped]
        else:
            found[key] = out[key] = next_id
            rows.append({"id": next_id, "prompt_id": key[0], "response_a_id": key[1], "response_b_id": key[2],
                         "source": source, "extra": _json(extra), "created_at": now, "labelled_by": 1,
                         "shuffle_key": rng.getrandbits(SHUFFLE_BITS)})
            next_id += 1
    _insert(s, PairRow, rows)
    return out, len(rows), first_new


def import_records(s: Session, records: Iterable[PreferenceRecord | UnpairedRecord], *,
                   default_objective: str | None, source: str, annotator: str = "dataset") -> ImportReport:
    """Store records as prompts, responses, pairs and labels (see store_api.md); duplicates are reported by line.

    A PreferenceRecord is a pair (a = chosen, b = rejected) with label "a" ("tie" for ties) by `annotator`. When the
    project already holds the pair with the responses the other way round, the label is "b" on that pair.
    """
    records = list(records)
    objectives, created = _objective_ids(s, records, default_objective, source)
    annotator_id = get_or_create_annotator(s, annotator).id
    mark_import_annotator(s, annotator_id)
    texts = _Texts(source)
    keyed: list[tuple[Any, str, str, str | None]] = []
    for rec in records:
        ph = texts.prompt(rec.prompt)
        if isinstance(rec, UnpairedRecord):
            keyed.append((rec, ph, texts.response(ph, rec.completion), None))
        else:
            keyed.append((rec, ph, texts.response(ph, rec.chosen), texts.response(ph, rec.rejected)))
    texts.save(s)
    paired = [(r, ph, a, b) for r, ph, a, b in keyed if b is not None]
    unpaired = [(r, ph, a) for r, ph, a, b in keyed if b is None]
    labels, pairs_added, duplicates = _pair_labels(s, paired, texts, objectives, annotator_id, source)
    feedback, more_duplicates = _feedback(s, unpaired, texts, objectives, annotator_id)
    return ImportReport(pairs_added=pairs_added, labels_added=labels, unpaired_added=feedback,
                        duplicates=tuple(sorted(duplicates + more_duplicates)), objectives_created=created)


def _pair_labels(s: Session, paired: list[tuple[PreferenceRecord, str, str, str]], texts: _Texts,
                 objectives: dict[str | None, int], annotator_id: int, source: str) -> tuple[int, int, list[int]]:
    wanted: dict[tuple[int, int, int], tuple[str, dict[str, Any]]] = {}
    keys: list[tuple[int, int, int]] = []  # (prompt, a, b) ids per record, looked up once
    for rec, ph, a, b in paired:
        pid, aid = texts.ids(ph, a)
        bid = texts.ids(ph, b)[1]
        if aid == bid:
            raise InputError("chosen and rejected are the same text: fix or remove the record", path=source,
                             line=rec.line)
        keys.append((pid, aid, bid))
        wanted.setdefault((pid, aid, bid), (source, dict(rec.extra)))
    pair_ids, pairs_added, first_new = _ensure_pairs(s, wanted)
    # (pair, objective) already labelled by this annotator
    taken: set[tuple[int, int]] = set(_lookup(
        s, f"SELECT pair_id, objective_id FROM label WHERE annotator_id = {int(annotator_id)} "
        "AND superseded_at IS NULL AND pair_id IN ({})", sorted({abs(v) for v in pair_ids.values()})))
    rows: list[dict[str, Any]] = []
    duplicates: list[int] = []
    now = _stamp(utcnow())
    for (rec, _, _, _), (pid, aid, bid) in zip(paired, keys):
        signed = pair_ids[(pid, aid, bid)]
        key = (abs(signed), objectives[rec.objective])
        if key in taken:
            duplicates.append(rec.line)
            continue
        taken.add(key)
        choice = "tie" if rec.tie else ("a" if signed > 0 else "b")
        rows.append({"pair_id": key[0], "objective_id": key[1], "annotator_id": annotator_id, "choice": choice,
                     "strength": 2, "note": "", "created_at": now, "shown_swapped": 0})
    if rows:
        _insert(s, LabelRow, rows)
        refresh_labelled_by(s, {row["pair_id"] for row in rows if row["pair_id"] < first_new})
    return len(rows), pairs_added, duplicates


def _feedback(s: Session, unpaired: list[tuple[UnpairedRecord, str, str]], texts: _Texts,
              objectives: dict[str | None, int], annotator_id: int) -> tuple[int, list[int]]:
    if not unpaired:
        return 0, []
    response_ids = sorted({texts.ids(ph, rh)[1] for _, ph, rh in unpaired})
    taken: set[tuple[int, int]] = set(_lookup(
        s, f"SELECT response_id, objective_id FROM unpaired_feedback WHERE annotator_id = {int(annotator_id)} "
        "AND response_id IN ({})", response_ids))
    rows: list[dict[str, Any]] = []
    duplicates: list[int] = []
    now = _stamp(utcnow())
    for rec, ph, rh in unpaired:
        key = (texts.ids(ph, rh)[1], objectives[rec.objective])
        if key in taken:
            duplicates.append(rec.line)
            continue
        taken.add(key)
        rows.append({"response_id": key[0], "objective_id": key[1], "annotator_id": annotator_id,
                     "desirable": int(bool(rec.label)), "created_at": now})
    if rows:
        _insert(s, UnpairedFeedbackRow, rows)
    return len(rows), duplicates
