"""The checker's labels in a project (store.auto_step_labels): generated responses split on request, human labels
left alone, a changed reference answer relabels with history, and the checker never counts as a person."""

from __future__ import annotations

from workbench.core.steps import BAD, GOOD, StepSplit
from workbench.store import step_labels as sl
from workbench.store.annotators import get_or_create_annotator, import_annotator_ids
from workbench.store.auto_step_labels import auto_label_steps
from workbench.store.objectives import get_or_create_objective
from workbench.store.pairs import add_prompt, add_response


def _ratings(s, response_id: int, annotator: str, objective: str = "correctness") -> list[int | None]:
    objective_id = get_or_create_objective(s, objective).id
    annotator_id = get_or_create_annotator(s, annotator).id
    labels = {lab.step_index: lab.rating for lab in sl.active_step_labels(s, objective_id=objective_id,
                                                                          annotator_id=annotator_id)
              if lab.response_id == response_id}
    return [labels.get(i) for i in range(len(sl.list_steps(s, response_id)))]


def test_generated_responses_split_checked_and_relabelled_with_history(project) -> None:
    with project.session() as s:
        prompt = add_prompt(s, "Tom has 3 boxes of 4 pens and buys 5 more. How many pens?")
        right = add_response(s, prompt.id, "3 * 4 = 12\n12 + 5 = 17\nThe answer is 17.")
        wrong = add_response(s, prompt.id, "3 * 4 = 12\n12 + 5 = 18\nThe answer is 18.")
        other = add_response(s, add_prompt(s, "Say hi.").id, "Hi!")
        sl.set_reference_answer(s, prompt.id, "17")
        person = get_or_create_annotator(s, "ana").id
        objective_id = get_or_create_objective(s, "correctness").id

        assert auto_label_steps(s, "correctness").checked == 0  # nothing split, no --split: nothing to do
        report = auto_label_steps(s, "correctness", split=StepSplit("line"))
        assert (report.checked, report.correct, report.labels_written, report.split_now) == (2, 1, 2, 2)
        assert sl.get_steps(s, other.id) is None  # no reference answer: not split
        assert _ratings(s, right.id, "auto:checker") == [None, None, GOOD]  # only the answer is known
        assert _ratings(s, wrong.id, "auto:checker") == [None, None, BAD]

        sl.label_step(s, wrong.id, 1, objective_id, person, BAD)  # a person's label is never touched
        sl.set_reference_answer(s, prompt.id, "18")  # the reference was wrong: run again
        report = auto_label_steps(s, "correctness")
        assert (report.checked, report.correct, report.labels_written) == (2, 1, 2)
        assert _ratings(s, right.id, "auto:checker") == [None, None, BAD]
        assert _ratings(s, wrong.id, "auto:checker") == [None, None, GOOD]
        assert _ratings(s, wrong.id, "ana") == [None, BAD, None]
        history = [lab for lab in sl.step_label_history(s, right.id) if lab.step_index == 2]
        assert [(lab.rating, lab.superseded) for lab in history] == [(GOOD, True), (BAD, False)]
        checker = get_or_create_annotator(s, "auto:checker").id
        assert checker in import_annotator_ids(s) and person not in import_annotator_ids(s)
