"""Suggested labels of a vector reward model (core/rm_suggestions.py): the file round trip, the newest file wins,
and agreement with people on hand-counted tables (confirmations, machines, ties and skips left out)."""

from __future__ import annotations

import math
import os

import pytest

from workbench.core.entities import Label
from workbench.core.rm_suggestions import (CONFIRMED_NOTE, SUGGESTIONS_FILE, Suggestion, confirmed_note,
                                           latest_suggestions, model_agreement, probability_a, read_suggestions,
                                           write_suggestions_file)


def test_probability_and_suggestion_fields():
    assert probability_a(2.0, 0.0) == pytest.approx(1 / (1 + math.exp(-2)))
    assert probability_a(-800.0, 0.0) == pytest.approx(0.0) and probability_a(800.0, 0.0) == 1.0  # no overflow
    s = Suggestion(1, "x", 0.2)
    assert s.choice == "b" and s.confidence == pytest.approx(0.8)
    assert Suggestion(1, "x", 0.5).choice == "a"


def test_file_round_trip_and_the_newest_run_wins(tmp_path):
    old, new = tmp_path / "0001-rm", tmp_path / "0002-rm"
    old.mkdir()
    new.mkdir()
    write_suggestions_file(old / SUGGESTIONS_FILE, "0001-rm", ["x"], {3: {"x": Suggestion(3, "x", 0.9, 1.0, -1.2)}})
    write_suggestions_file(new / SUGGESTIONS_FILE, "0002-rm", ["x", "y"],
                           {4: {"x": Suggestion(4, "x", 0.25, 0.0, 1.1), "y": Suggestion(4, "y", 0.7, 2.0, 1.0)}})
    os.utime(old / SUGGESTIONS_FILE, (1, 1))
    got = read_suggestions(new / SUGGESTIONS_FILE)
    assert got == {4: {"x": Suggestion(4, "x", 0.25, 0.0, 1.1), "y": Suggestion(4, "y", 0.7, 2.0, 1.0)}}
    path, latest = latest_suggestions(tmp_path)
    assert path == new / SUGGESTIONS_FILE and latest == got
    (new / SUGGESTIONS_FILE).write_text("{damaged", encoding="utf-8")  # unreadable: the next newest is used
    path, latest = latest_suggestions(tmp_path)
    assert path == old / SUGGESTIONS_FILE and list(latest) == [3]
    assert latest_suggestions(tmp_path / "missing") is None


def _label(i: int, pair: int, objective: int, annotator: int, choice: str, note: str = "") -> Label:
    return Label(i, pair, objective, annotator, choice, note=note)


def test_model_agreement_counts_only_peoples_own_decisive_labels():
    # model: pairs 1-4 on "x" suggest a, a, b, b; pair 5 suggests a
    sug = {p: {"x": Suggestion(p, "x", pa)} for p, pa in [(1, 0.9), (2, 0.6), (3, 0.1), (4, 0.3), (5, 0.8)]}
    labels = [
        _label(1, 1, 10, 1, "a"), _label(2, 2, 10, 1, "b"), _label(3, 3, 10, 1, "b"), _label(4, 4, 10, 2, "b"),
        _label(5, 1, 10, 2, "a"),
        _label(6, 5, 10, 1, "a", confirmed_note("looks right")),  # a confirmation: counted apart
        _label(7, 2, 10, 2, "tie"), _label(8, 3, 10, 2, "skip"),  # no preference
        _label(9, 4, 10, 99, "a"),  # an imported (machine) label
        _label(10, 4, 11, 1, "a"),  # an objective the model has no suggestion for
    ]
    (row,) = model_agreement(sug, labels, {10: "x", 11: "y"}, machine_annotators={99})
    # compared: (a,a) (a,b) (b,b) (b,b) (a,a) -> 4 of 5 agree
    assert row.objective == "x" and row.compared == 5 and row.accuracy == pytest.approx(0.8)
    # κ: p_o = 4/5, model a:b = 3:2, people a:b = 2:3, p_e = (3·2 + 2·3)/25 = 0.48 -> (0.8 − 0.48)/0.52
    assert row.kappa == pytest.approx((0.8 - 0.48) / 0.52)
    assert row.confirmed == 1
    assert confirmed_note() == CONFIRMED_NOTE
    (empty,) = model_agreement({1: {"x": Suggestion(1, "x", 0.9)}}, [], {10: "x"})
    assert empty.compared == 0 and math.isnan(empty.accuracy) and math.isnan(empty.kappa)
