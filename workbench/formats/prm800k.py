"""PRM800K JSON Lines (openai/prm800k, prm800k/data/phase{1,2}_{train,test}.jsonl; Lightman et al. 2023, "Let's
Verify Step by Step"): one labelled solution per line.

    {"labeler", "timestamp", "generation", "is_quality_control_question", "is_initial_screening_question",
     "question": {"problem", "ground_truth_answer", "ground_truth_solution", "pre_generated_*"...},
     "label": {"steps": [{"completions": [{"text", "rating": -1|0|1|null, "flagged"}] | null,
                          "human_completion": {"text", "rating"...} | null, "chosen_completion": int | null}],
               "total_time", "finish_reason": "found_error" | "solution" | "bad_problem" | "give_up"}}

A line becomes one record: the labelled trajectory with its ratings kept as ratings (+1 / 0 / -1), the problem as
prompt, the ground-truth answer as reference. The trajectory (the dataset README's rule, as TRL's conversion reads
it): at each step the chosen completion, else the human-written completion (rated +1 when it carries no rating:
the labeller wrote it because every offered step was wrong, TRL counts it as correct), else the trajectory ends -
with the step's first completion rated -1 when there is one (the error the labeller found, as phase 2 records it).
A line with no trajectory (e.g. finish_reason "bad_problem") gives no record. The alternative completions and
every other field are kept, and `write` puts them back, so a file read and written again is the same file; records
from elsewhere are written with one completion per step.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.core.errors import InputError
from workbench.core.steps import BAD, GOOD, RATINGS, StepwiseRecord
from workbench.formats.common import Progress, Row, _kind, write_jsonl
from workbench.formats.step_common import extra_columns, extras, read_step_records

NAME = "prm800k"
KNOWN = ("question", "label")
FINISH_REASONS = ("found_error", "solution", "bad_problem", "give_up")
# How each trajectory step was taken: ["chosen", i], ["human", -1] or ["error", i] (first -1 of an unchosen step).
Taken = list[Any]


def _fail(message: str, line: int, path: str) -> InputError:
    return InputError(message, path=path, line=line)


def _object(value: Any, where: str, line: int, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(f"'{where}' must be an object, not {_kind(value)}", line, path)
    return value


def _rating(value: Any, where: str, line: int, path: str) -> int | None:
    if value is None or (not isinstance(value, bool) and isinstance(value, int) and value in RATINGS):
        return value
    raise _fail(f"{where} must be -1, 0, 1 or null, not {value!r}", line, path)


def _completion(value: Any, where: str, line: int, path: str) -> tuple[str, int | None]:
    if isinstance(value, str):  # a human completion written as plain text
        return value, None
    item = _object(value, where, line, path)
    text = item.get("text")
    if not isinstance(text, str):
        raise _fail(f"'{where}.text' must be a string, not {_kind(text)}", line, path)
    return text, _rating(item.get("rating"), f"'{where}.rating'", line, path)


def _step(value: Any, i: int, line: int, path: str) -> tuple[list[tuple[str, int | None]], Any, Any]:
    """(completions, human completion, chosen index) of label.steps[i], checked."""
    where = f"label.steps[{i}]"
    step = _object(value, where, line, path)
    raw = step.get("completions")
    if raw is not None and not isinstance(raw, list):
        raise _fail(f"'{where}.completions' must be a list or null, not {_kind(raw)}", line, path)
    completions = [_completion(c, f"{where}.completions[{j}]", line, path) for j, c in enumerate(raw or [])]
    human = step.get("human_completion")
    if human is not None:
        human = _completion(human, f"{where}.human_completion", line, path)
    chosen = step.get("chosen_completion")
    if chosen is not None and (isinstance(chosen, bool) or not isinstance(chosen, int)
                               or not 0 <= chosen < len(completions)):
        raise _fail(f"'{where}.chosen_completion' must be the index of one of its {len(completions)} completions "
                    f"or null, not {chosen!r}", line, path)
    return completions, human, chosen


def trajectory(raw_steps: list[Any], line: int, path: str) -> tuple[list[str], list[int | None], list[Taken]]:
    """The labelled solution of label.steps: texts, ratings and how each step was taken (module docstring)."""
    texts: list[str] = []
    ratings: list[int | None] = []
    taken: list[Taken] = []
    ended = False
    for i, value in enumerate(raw_steps):
        completions, human, chosen = _step(value, i, line, path)  # every step is checked, even after the end
        if ended:
            continue
        if chosen is not None:
            (text, rating), how = completions[chosen], ["chosen", chosen]
        elif human is not None:
            (text, rating), how = human, ["human", -1]
            rating = GOOD if rating is None else rating
        else:
            bad = next((j for j, (_t, r) in enumerate(completions) if r == BAD), None)
            if bad is not None:
                texts.append(completions[bad][0])
                ratings.append(BAD)
                taken.append(["error", bad])
            ended = True
            continue
        texts.append(text)
        ratings.append(rating)
        taken.append(how)
    for k, text in enumerate(texts):
        if not text.strip():
            raise _fail(f"step {k + 1} of the labelled solution has empty text", line, path)
    return texts, ratings, taken


def parse_row(row: Row, line: int, path: str) -> list[StepwiseRecord]:
    if "question" not in row or "label" not in row:
        missing = "question" if "question" not in row else "label"
        raise _fail(f"the field '{missing}' is missing (a PRM800K line has 'question' and 'label')", line, path)
    question = _object(row["question"], "question", line, path)
    label = _object(row["label"], "label", line, path)
    problem = question.get("problem")
    if not isinstance(problem, str) or not problem.strip():
        raise _fail(f"'question.problem' must be the problem's text, not {_kind(problem)}"
                    if not isinstance(problem, str) else "'question.problem' is empty", line, path)
    answer = question.get("ground_truth_answer")
    if answer is not None and (isinstance(answer, bool) or not isinstance(answer, (str, int, float))):
        raise _fail(f"'question.ground_truth_answer' must be a string, not {_kind(answer)}", line, path)
    raw_steps = label.get("steps")
    if not isinstance(raw_steps, list):
        raise _fail(f"'label.steps' must be a list of steps, not {_kind(raw_steps)}", line, path)
    finish = label.get("finish_reason")
    if finish is not None and finish not in FINISH_REASONS:
        raise _fail(f"'label.finish_reason' must be one of {', '.join(FINISH_REASONS)}, not {finish!r}", line, path)
    texts, ratings, taken = trajectory(raw_steps, line, path)
    if not texts:
        return []
    own = {"question": question,  # all of it, so that a write keeps its fields in their order
           "label": {k: v for k, v in label.items() if k != "steps"}, "steps": raw_steps, "taken": taken}
    return [StepwiseRecord(prompt=problem, steps=tuple(texts), ratings=tuple(ratings),
                           reference_answer="" if answer is None else str(answer),
                           meta={**extras(row, KNOWN), NAME: own})]


def read(path: str | Path, progress: Progress | None = None) -> list[StepwiseRecord]:
    return read_step_records(path, parse_row, progress)


def finish_reason(record: StepwiseRecord) -> str:
    """The record's finish_reason: as read when its ratings are unchanged, else found_error / solution."""
    own = record.meta.get(NAME) or {}
    if _kept_steps(record) is not None and _ratings_unchanged(record):
        reason = (own.get("label") or {}).get("finish_reason")
        if reason in FINISH_REASONS:
            return reason
    return "found_error" if BAD in record.ratings else "solution"


def _kept_steps(record: StepwiseRecord) -> list[Any] | None:
    """The steps as read, when they still hold this record's texts (else None: write the plain layout)."""
    own = record.meta.get(NAME) or {}
    raw, taken = own.get("steps"), own.get("taken")
    if not isinstance(raw, list) or not isinstance(taken, list) or len(taken) != len(record.steps):
        return None
    try:
        texts, _ratings, again = trajectory(raw, 0, "")
    except InputError:
        return None
    return raw if (tuple(texts) == record.steps and again == taken) else None


def _ratings_unchanged(record: StepwiseRecord) -> bool:
    return tuple(trajectory(record.meta[NAME]["steps"], 0, "")[1]) == record.ratings


def _steps_back(record: StepwiseRecord, raw: list[Any]) -> list[Any]:
    """The steps as read, with the record's ratings put on the trajectory's completions where they changed."""
    steps = copy.deepcopy(raw)
    old_ratings = trajectory(raw, 0, "")[1]
    for k, ((how, index), rating, old) in enumerate(zip(record.meta[NAME]["taken"], record.ratings, old_ratings,
                                                        strict=True)):
        if rating == old:
            continue
        step = steps[k]
        if how == "human":
            human = step["human_completion"]
            human = step["human_completion"] = human if isinstance(human, dict) else {"text": human}
            human["rating"] = rating
        else:
            step["completions"][index]["rating"] = rating
            if how == "error":
                step["chosen_completion"] = index  # no longer the error: the trajectory goes through it
    return steps


def _plain_steps(record: StepwiseRecord) -> list[Any]:
    return [{"completions": [{"text": text, "rating": rating, "flagged": None}], "human_completion": None,
             "chosen_completion": 0} for text, rating in zip(record.steps, record.ratings, strict=True)]


def to_row(record: StepwiseRecord) -> Row:
    own = record.meta.get(NAME) or {}
    raw = _kept_steps(record)
    steps = _plain_steps(record) if raw is None else _steps_back(record, raw)
    question = dict(own.get("question") or {})
    question["problem"] = record.prompt
    read = question.get("ground_truth_answer")  # as read (a number, "", null or absent) while the answer is unchanged
    if ("" if read is None else str(read)) != record.reference_answer:
        question["ground_truth_answer"] = record.reference_answer or None
    label = {"steps": steps, **(own.get("label") or {})}
    if raw is None or not _ratings_unchanged(record):  # as read (even absent) unless the ratings changed
        label["finish_reason"] = finish_reason(record)
    row: Row = extra_columns(record, KNOWN)
    row.update({"question": question, "label": label})
    return row


def write(records: Iterable[StepwiseRecord], path: str | Path) -> int:
    return write_jsonl((to_row(r) for r in records), path)


def looks_like(row: Row) -> bool:
    return isinstance(row.get("question"), dict) and isinstance(row.get("label"), dict)

