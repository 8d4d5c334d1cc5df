"""Step-labelled formats (issue #17): TRL stepwise, PRM800K, Math-Shepherd, ProcessBench. What each reads into a
StepwiseRecord (numbers: ratings, step texts, answers), round trips (read -> write -> read equal; Math-Shepherd,
PRM800K and ProcessBench rows written back as the same JSON), detection, and readable errors that name the line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .formats_testing import input_error, write_rows
from workbench.core.errors import InputError
from workbench.core.steps import BAD, GOOD, NEUTRAL, StepwiseRecord
from workbench.formats import math_shepherd, prm800k, processbench, trl_stepwise
from workbench.formats.step_registry import STEP_FORMATS, read_stepwise, sniff_step_format

TRL_ROW = {"prompt": "Tom has 3 apples and buys 4. How many?", "completions": ["3 + 4 = 7", "The answer is 7"],
           "labels": [True, True], "answer": "7", "source_id": 12}
SHEPHERD_INPUT = ("Janet has 16 eggs and eats 3. How many are left? Step 1: She eats 3, so 16 - 3 = 13. ки\n"
                  "Step 2: The answer is: 14 ки")
SHEPHERD_LABEL = SHEPHERD_INPUT.replace("13. ки", "13. +").replace("14 ки", "14 -")
SHEPHERD_ROW = {"input": SHEPHERD_INPUT, "label": SHEPHERD_LABEL, "task": "GSM8K"}
PROCESSBENCH_ROW = {"id": "gsm8k-0", "generator": "Qwen2-7B", "problem": "2+3*4?",
                    "steps": ["3*4 = 12", "2 + 12 = 15", "So 15"], "final_answer_correct": False, "label": 1}


def _completion(text: str, rating: int | None, flagged: bool | None = None) -> dict:
    return {"text": text, "rating": rating, "flagged": flagged}


def prm800k_row(**label_overrides) -> dict:
    """The README's example shape: neutral first step, an alternative at step 2, found_error at step 3 of 3."""
    steps = [
        {"completions": [_completion("I want the GCF.", 0)], "human_completion": None, "chosen_completion": 0},
        {"completions": [_completion("Factor 200000 = 2^6 5^5.", 1), _completion("Guess 100.", -1, False)],
         "human_completion": None, "chosen_completion": 0},
        {"completions": [_completion("20! has 3 fives.", -1), _completion("20! has 4 fives.", 0, False)],
         "human_completion": None, "chosen_completion": None},
    ]
    label = {"steps": steps, "total_time": 278270, "finish_reason": "found_error", **label_overrides}
    return {"labeler": "340d89bc", "timestamp": "2023-01-22T04:34:27", "generation": 9,
            "is_quality_control_question": False, "is_initial_screening_question": False,
            "question": {"problem": "What is the GCF of 20! and 200,000?", "ground_truth_answer": "40,\\!000",
                         "ground_truth_solution": "... 2^6 * 5^4 = 40000", "pre_generated_answer": "320,000"},
            "label": label}


# --- TRL stepwise ---------------------------------------------------------------------------------------------


def test_trl_stepwise_reads_labels_answer_and_extra_columns(tmp_path: Path) -> None:
    rows = [TRL_ROW, {"prompt": "p", "completions": ["a", "b", "c"], "labels": [1, 0, 0.9]}]
    first, second = trl_stepwise.read(write_rows(tmp_path / "s.jsonl", rows))
    assert first == StepwiseRecord(prompt=TRL_ROW["prompt"], steps=("3 + 4 = 7", "The answer is 7"),
                                   ratings=(GOOD, GOOD), reference_answer="7",
                                   meta={"extra": {"source_id": 12}, "trl-stepwise": {"answer_column": "answer"}})
    assert second.ratings == (GOOD, BAD, BAD)  # int() as TRL's tokenize_row: 0.9 -> 0
    assert second.reference_answer == "" and second.meta == {}


def test_trl_stepwise_round_trip_and_written_layout(tmp_path: Path) -> None:
    records = trl_stepwise.read(write_rows(tmp_path / "in.jsonl", [TRL_ROW, {**TRL_ROW, "labels": [True, False],
                                                                           "answer": 8}]))
    assert records[1].reference_answer == "8" and records[1].ratings == (GOOD, BAD)
    out = tmp_path / "out.jsonl"
    assert trl_stepwise.write(records, out) == 2
    assert json.loads(out.read_text().splitlines()[0]) == {
        "prompt": TRL_ROW["prompt"], "completions": ["3 + 4 = 7", "The answer is 7"], "labels": [True, True],
        "answer": "7", "source_id": 12}
    assert trl_stepwise.read(out) == records


def test_trl_stepwise_an_empty_answer_under_its_own_column_round_trips(tmp_path: Path) -> None:
    """Found by a hypothesis draw: "answer": "" was read as the answer column but not written back, so the read
    after the write lost the column's name."""
    rows = [{**TRL_ROW, "answer": ""}, {**TRL_ROW, "answer": None}, {**TRL_ROW, "reference_answer": ""}]
    records = trl_stepwise.read(write_rows(tmp_path / "in.jsonl", rows))
    out = tmp_path / "out.jsonl"
    trl_stepwise.write(records, out)
    assert trl_stepwise.read(out) == records
    assert json.loads(out.read_text().splitlines()[0])["answer"] == ""


def test_trl_stepwise_writes_neutral_as_false_and_stops_at_the_first_unrated_step(tmp_path: Path) -> None:
    record = StepwiseRecord("q", ("a", "b", "c", "d"), (GOOD, NEUTRAL, BAD, None))
    out = tmp_path / "o.jsonl"
    assert trl_stepwise.write([record, StepwiseRecord("q2", ("x",), (None,))], out) == 1  # nothing rated: no row
    assert json.loads(out.read_text()) == {"prompt": "q", "completions": ["a", "b", "c"],
                                           "labels": [True, False, False]}
    trl_stepwise.write([record], out, neutral_is_good=True)
    assert json.loads(out.read_text())["labels"] == [True, True, False]


@pytest.mark.parametrize(("row", "message"), [
    ({"completions": ["a"], "labels": [True]}, "the field 'prompt' is missing"),
    ({"prompt": " ", "completions": ["a"], "labels": [True]}, "'prompt' is empty"),
    ({"prompt": [{"role": "user", "content": "q"}], "completions": ["a"], "labels": [True]}, "plain-text prompt"),
    ({"prompt": "q", "completions": "a", "labels": [True]}, "'completions' must be a list of step texts"),
    ({"prompt": "q", "completions": [], "labels": []}, "at least one step"),
    ({"prompt": "q", "completions": ["a", 3], "labels": [True, True]}, "step 2 of 'completions' must be a string"),
    ({"prompt": "q", "completions": ["a", " "], "labels": [True, True]}, "step 2 of 'completions' is empty"),
    ({"prompt": "q", "completions": ["a", "b"], "labels": [True]}, "2 steps in 'completions' but 1 labels"),
    ({"prompt": "q", "completions": ["a"]}, "'labels' is missing"),
    ({"prompt": "q", "completions": ["a"], "labels": "yes"}, "'labels' must be a list"),
    ({"prompt": "q", "completions": ["a"], "labels": ["yes"]}, "label 1 of 'labels' must be true or false"),
    ({"prompt": "q", "completions": ["a"], "labels": [2]}, "not 2"),
    ({"prompt": "q", "completions": ["a"], "labels": [None]}, "not None"),
    ({"prompt": "q", "completions": ["a"], "labels": [True], "answer": [7]}, "'answer' .* must be a string or a"),
])
def test_trl_stepwise_errors_name_the_line(tmp_path: Path, row: dict, message: str) -> None:
    error = input_error(trl_stepwise.read, write_rows(tmp_path / "bad.jsonl", [TRL_ROW, row]))
    assert error.line == 2
    assert str(error).startswith(f"{tmp_path / 'bad.jsonl'}:2: ")
    assert re.search(message, str(error)), str(error)


# --- Math-Shepherd --------------------------------------------------------------------------------------------


def test_math_shepherd_splits_step_one_off_the_problem_and_reads_the_marks(tmp_path: Path) -> None:
    (record,) = math_shepherd.read(write_rows(tmp_path / "ms.jsonl", [SHEPHERD_ROW]))
    assert record.prompt == "Janet has 16 eggs and eats 3. How many are left?"
    assert record.steps == ("Step 1: She eats 3, so 16 - 3 = 13.", "Step 2: The answer is: 14")
    assert record.ratings == (GOOD, BAD)
    assert record.meta == {"extra": {"task": "GSM8K"}}


def test_math_shepherd_round_trip_writes_its_own_rows_back_unchanged(tmp_path: Path) -> None:
    src = write_rows(tmp_path / "ms.jsonl", [SHEPHERD_ROW])
    records = math_shepherd.read(src)
    out = tmp_path / "out.jsonl"
    assert math_shepherd.write(records, out) == 1
    assert json.loads(out.read_text()) == SHEPHERD_ROW
    assert math_shepherd.read(out) == records


def test_math_shepherd_lower_case_heading_question_mark_fallback_and_untagged_tail(tmp_path: Path) -> None:
    rows = [{"input": "How many? step 1: two ки\nstep 2: so 2 ки",
             "label": "How many? step 1: two +\nstep 2: so 2 +"},
            {"input": "How many legs? A dog has 4 ки so 4 ки", "label": "How many legs? A dog has 4 - so 4 -"},
            {"input": "Q? Step 1: a ки\nStep 2: b", "label": "Q? Step 1: a +\nStep 2: b"}]
    lower, question, tail = math_shepherd.read(write_rows(tmp_path / "ms.jsonl", rows))
    assert (lower.prompt, lower.steps, lower.ratings) == ("How many?", ("step 1: two", "step 2: so 2"), (GOOD, GOOD))
    assert (question.prompt, question.steps, question.ratings) == ("How many legs?", ("A dog has 4", "so 4"),
                                                                    (BAD, BAD))
    assert (tail.steps, tail.ratings) == (("Step 1: a", "Step 2: b"), (GOOD, None))
    out = tmp_path / "out.jsonl"
    math_shepherd.write([lower, question, tail], out)
    again = math_shepherd.read(out)
    assert again[0] == lower and again[2] == tail
    assert again[1].steps == ("Step 1: A dog has 4", "Step 2: so 4")  # the layout numbers its steps


def test_math_shepherd_writes_records_from_other_formats(tmp_path: Path) -> None:
    record = StepwiseRecord("Add 2 and 3.", ("2 + 3 = 5", "The answer is: 5", "Check: 5 - 3 = 2"),
                            (GOOD, NEUTRAL, None))
    out = tmp_path / "o.jsonl"
    math_shepherd.write([record], out)
    row = json.loads(out.read_text())
    tail = "\nStep 3: Check: 5 - 3 = 2"
    assert row["input"] == "Add 2 and 3. Step 1: 2 + 3 = 5 ки\nStep 2: The answer is: 5 ки" + tail
    assert row["label"] == "Add 2 and 3. Step 1: 2 + 3 = 5 +\nStep 2: The answer is: 5 -" + tail
    assert math_shepherd.read(out)[0].ratings == (GOOD, BAD, None)
    with pytest.raises(InputError, match="contains ки"):
        math_shepherd.write([StepwiseRecord("q ки", ("a",), (GOOD,))], out)


@pytest.mark.parametrize(("row", "message"), [
    ({"label": "x"}, "'input' is missing"),
    ({"input": "Q? Step 1: a ки", "label": 5}, "'label' must be a string"),
    ({"input": "Q? Step 1: a", "label": "Q? Step 1: a"}, "has no step tags"),
    ({"input": "Q? Step 1: a ки", "label": "Q? Step 1: a ?"}, "'label' has '\\?' where step tag 1"),
    ({"input": "Q? Step 1: a ки\nStep 2: b ки", "label": "Q? Step 1: a +"}, "has 'nothing' where step tag 2"),
    ({"input": "No question mark ки", "label": "No question mark +"}, "cannot tell where step 1 starts"),
    ({"input": "Q? Step 1: a ки ки", "label": "Q? Step 1: a + +"}, "step 2 is empty"),
    ({"input": "Step 1: a ки", "label": "Step 1: a +"}, "the problem is empty"),
])
def test_math_shepherd_errors_name_the_line(tmp_path: Path, row: dict, message: str) -> None:
    error = input_error(math_shepherd.read, write_rows(tmp_path / "bad.jsonl", [SHEPHERD_ROW, row]))
    assert error.line == 2
    assert re.search(message, str(error)), str(error)


# --- PRM800K --------------------------------------------------------------------------------------------------


def test_prm800k_trajectory_is_the_chosen_path_ending_at_the_error(tmp_path: Path) -> None:
    (record,) = prm800k.read(write_rows(tmp_path / "p.jsonl", [prm800k_row()]))
    assert record.prompt == "What is the GCF of 20! and 200,000?"
    assert record.steps == ("I want the GCF.", "Factor 200000 = 2^6 5^5.", "20! has 3 fives.")
    assert record.ratings == (NEUTRAL, GOOD, BAD)
    assert record.reference_answer == "40,\\!000"
    assert prm800k.finish_reason(record) == "found_error"
    assert record.meta["extra"] == {"labeler": "340d89bc", "timestamp": "2023-01-22T04:34:27", "generation": 9,
                                    "is_quality_control_question": False, "is_initial_screening_question": False}


def test_prm800k_round_trip_writes_the_line_back_unchanged(tmp_path: Path) -> None:
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps(prm800k_row(), ensure_ascii=False) + "\n", encoding="utf-8")
    records = prm800k.read(src)
    out = tmp_path / "out.jsonl"
    assert prm800k.write(records, out) == 1
    assert out.read_bytes() == src.read_bytes()  # fields in their order, alternatives, times, finish_reason
    assert prm800k.read(out) == records


def test_prm800k_human_completions_and_lines_without_a_trajectory(tmp_path: Path) -> None:
    human = prm800k_row(finish_reason="solution")
    human["label"]["steps"][2] = {"completions": [_completion("wrong", -1), _completion("also wrong", -1)],
                                  "human_completion": {"text": "20! has 4 fives.", "rating": None},
                                  "chosen_completion": None}
    bad_problem = prm800k_row(steps=[], finish_reason="bad_problem")
    nothing_chosen = prm800k_row(finish_reason="give_up")
    nothing_chosen["label"]["steps"][2]["completions"][0]["rating"] = 0  # no -1 among the unchosen: path ends
    records = prm800k.read(write_rows(tmp_path / "p.jsonl", [human, bad_problem, nothing_chosen]))
    assert len(records) == 2  # the bad_problem line has no labelled step
    assert records[0].steps[2] == "20! has 4 fives." and records[0].ratings == (NEUTRAL, GOOD, GOOD)
    assert records[1].ratings == (NEUTRAL, GOOD) and prm800k.finish_reason(records[1]) == "give_up"
    out = tmp_path / "out.jsonl"
    prm800k.write(records, out)
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert rows[0] == human and rows[1] == nothing_chosen


def test_prm800k_writes_changed_ratings_onto_the_kept_completions(tmp_path: Path) -> None:
    (record,) = prm800k.read(write_rows(tmp_path / "p.jsonl", [prm800k_row()]))
    relabelled = StepwiseRecord(record.prompt, record.steps, (GOOD, GOOD, GOOD), record.reference_answer,
                                meta=record.meta)
    out = tmp_path / "out.jsonl"
    prm800k.write([relabelled], out)
    row = json.loads(out.read_text())
    steps = row["label"]["steps"]
    assert [s["completions"][s["chosen_completion"]]["rating"] for s in steps] == [1, 1, 1]
    assert steps[2]["chosen_completion"] == 0 and steps[1]["completions"][1]["text"] == "Guess 100."
    assert row["label"]["finish_reason"] == "solution"
    assert prm800k.read(out)[0].ratings == (GOOD, GOOD, GOOD)


def test_prm800k_writes_plain_records_with_one_completion_per_step(tmp_path: Path) -> None:
    record = StepwiseRecord("1+1?", ("1+1 = 3", "So 3"), (BAD, None), reference_answer="2")
    out = tmp_path / "o.jsonl"
    prm800k.write([record], out)
    row = json.loads(out.read_text())
    assert row == {"question": {"problem": "1+1?", "ground_truth_answer": "2"},
                   "label": {"steps": [
                       {"completions": [{"text": "1+1 = 3", "rating": -1, "flagged": None}],
                        "human_completion": None, "chosen_completion": 0},
                       {"completions": [{"text": "So 3", "rating": None, "flagged": None}],
                        "human_completion": None, "chosen_completion": 0}], "finish_reason": "found_error"}}
    (again,) = prm800k.read(out)
    assert (again.prompt, again.steps, again.ratings, again.reference_answer) == ("1+1?", record.steps, (BAD, None),
                                                                                "2")
    prm800k.write([again], out)
    assert json.loads(out.read_text()) == row


def _with(path: tuple, value) -> dict:
    row = prm800k_row()
    target = row
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return row


@pytest.mark.parametrize(("row", "message"), [
    ({"label": {"steps": []}}, "'question' is missing"),
    (_with(("question",), "text"), "'question' must be an object"),
    (_with(("question", "problem"), 5), "'question.problem' must be the problem's text"),
    (_with(("question", "problem"), " "), "'question.problem' is empty"),
    (_with(("question", "ground_truth_answer"), [1]), "ground_truth_answer' must be a string"),
    (_with(("label", "steps"), None), "'label.steps' must be a list"),
    (_with(("label", "finish_reason"), "done"), "'label.finish_reason' must be one of"),
    (_with(("label", "steps", 1), 3), "'label.steps\\[1\\]' must be an object"),
    (_with(("label", "steps", 1, "completions"), "x"), "completions' must be a list or null"),
    (_with(("label", "steps", 1, "completions", 0, "text"), None), "completions\\[0\\].text' must be a string"),
    (_with(("label", "steps", 1, "completions", 0, "rating"), 2), "rating' must be -1, 0, 1 or null, not 2"),
    (_with(("label", "steps", 1, "completions", 0, "rating"), True), "not True"),
    (_with(("label", "steps", 1, "chosen_completion"), 5), "index of one of its 2 completions .* not 5"),
    (_with(("label", "steps", 1, "human_completion"), 7), "human_completion' must be an object"),
    (_with(("label", "steps", 0, "completions", 0, "text"), ""), "step 1 of the labelled solution has empty"),
    (_with(("label", "steps"), [*prm800k_row()["label"]["steps"], {"completions": [{"text": 5}]}]),
     "steps\\[3\\].completions\\[0\\].text"),  # checked after the trajectory's end too
])
def test_prm800k_errors_name_the_line(tmp_path: Path, row: dict, message: str) -> None:
    error = input_error(prm800k.read, write_rows(tmp_path / "bad.jsonl", [prm800k_row(), row]))
    assert error.line == 2
    assert re.search(message, str(error)), str(error)


# --- ProcessBench ---------------------------------------------------------------------------------------------


def test_processbench_label_becomes_ratings_and_round_trips(tmp_path: Path) -> None:
    correct = {**PROCESSBENCH_ROW, "id": "gsm8k-1", "label": -1, "final_answer_correct": True}
    records = processbench.read(write_rows(tmp_path / "pb.jsonl", [PROCESSBENCH_ROW, correct]))
    assert records[0].ratings == (GOOD, BAD, None) and records[1].ratings == (GOOD, GOOD, GOOD)
    assert records[0].meta == {"extra": {"id": "gsm8k-0", "generator": "Qwen2-7B", "final_answer_correct": False}}
    out = tmp_path / "out.jsonl"
    assert processbench.write(records, out) == 2
    assert [json.loads(x) for x in out.read_text().splitlines()] == [PROCESSBENCH_ROW, correct]
    with pytest.raises(InputError, match="unrated steps before its first error \\(step 3\\)"):
        processbench.write([StepwiseRecord("q", ("a", "b", "c"), (GOOD, None, BAD))], out)


@pytest.mark.parametrize(("row", "message"), [
    ({**PROCESSBENCH_ROW, "label": 3}, "0 to 2\\) or -1 .* not 3"),
    ({**PROCESSBENCH_ROW, "label": "1"}, "not '1'"),
    ({k: v for k, v in PROCESSBENCH_ROW.items() if k != "label"}, "'label' is missing"),
    ({**PROCESSBENCH_ROW, "steps": "one"}, "'steps' must be a list"),
])
def test_processbench_errors_name_the_line(tmp_path: Path, row: dict, message: str) -> None:
    error = input_error(processbench.read, write_rows(tmp_path / "bad.jsonl", [PROCESSBENCH_ROW, row]))
    assert error.line == 2
    assert re.search(message, str(error)), str(error)


# --- registry ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("row", "name"), [
    (TRL_ROW, "trl-stepwise"), (SHEPHERD_ROW, "math-shepherd"), (prm800k_row(), "prm800k"),
    (PROCESSBENCH_ROW, "processbench"),
    ({"prompt": "p", "chosen": "a", "rejected": "b"}, None), ({"instruction": "q", "completions": []}, None),
    ({"prompt": "p", "completion": "c", "label": True}, None),
])
def test_detection_tells_step_files_from_pair_files(tmp_path: Path, row: dict, name: str | None) -> None:
    found = sniff_step_format(write_rows(tmp_path / "d.jsonl", ["", row]))
    assert (found.name if found else None) == name
    if name:
        assert read_stepwise(tmp_path / "d.jsonl")[0].steps


def test_every_problem_is_reported_in_one_error_and_nothing_is_returned(tmp_path: Path) -> None:
    bad = {**TRL_ROW, "labels": [True]}
    error = input_error(lambda p: read_stepwise(p, "trl-stepwise"),
                        write_rows(tmp_path / "b.jsonl", [TRL_ROW, bad, TRL_ROW, bad, "{oops"]))
    assert error.line == 2 and "(2 more problems, on lines 4, 5)" in str(error)
    assert list(STEP_FORMATS) == ["trl-stepwise", "prm800k", "math-shepherd", "processbench"]
    with pytest.raises(InputError, match="not a step-labelled file"):
        read_stepwise(write_rows(tmp_path / "pairs.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}]))


def test_parquet_sources_read_like_jsonl_and_name_the_row(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [TRL_ROW, {**TRL_ROW, "prompt": "other", "labels": [True, False]}]
    parquet = tmp_path / "steps.parquet"
    pq.write_table(pa.Table.from_pylist(rows), parquet)
    assert sniff_step_format(parquet).name == "trl-stepwise"
    assert read_stepwise(parquet) == trl_stepwise.read(write_rows(tmp_path / "same.jsonl", rows))
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([TRL_ROW, {**TRL_ROW, "labels": [True]}, {**TRL_ROW, "labels": [False]}]),
                   bad)
    error = input_error(lambda p: read_stepwise(p, "trl-stepwise"), bad)
    assert error.line == 2 and "(1 more problem, on row 3)" in str(error)


def test_prm800k_numeric_ground_truth_answer_round_trips(tmp_path):
    """Found by the hypothesis fuzz: a ground_truth_answer given as a JSON number was written back as a string,
    so read -> write -> read changed the record's kept PRM800K fields."""
    from workbench.formats.step_registry import STEP_FORMATS

    row = prm800k_row()
    row["question"]["ground_truth_answer"] = 0
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(row) + "\n", encoding="utf-8")
    first = STEP_FORMATS["prm800k"].read(src)
    assert first[0].reference_answer == "0"
    out = tmp_path / "out.jsonl"
    STEP_FORMATS["prm800k"].write(first, out)
    assert STEP_FORMATS["prm800k"].read(out) == first
    assert json.loads(out.read_text(encoding="utf-8"))["question"]["ground_truth_answer"] == 0


@pytest.mark.parametrize("answer", ["", None, "absent"])
def test_prm800k_empty_or_missing_ground_truth_answer_round_trips(tmp_path, answer):
    """Also from the fuzz: an empty, null or missing ground_truth_answer comes back as it was."""
    from workbench.formats.step_registry import STEP_FORMATS

    row = prm800k_row()
    if answer == "absent":
        del row["question"]["ground_truth_answer"]
    else:
        row["question"]["ground_truth_answer"] = answer
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text(json.dumps(row) + "\n", encoding="utf-8")
    first = STEP_FORMATS["prm800k"].read(src)
    STEP_FORMATS["prm800k"].write(first, out)
    assert STEP_FORMATS["prm800k"].read(out) == first
    assert json.loads(out.read_text(encoding="utf-8"))["question"] == row["question"]
