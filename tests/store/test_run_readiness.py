"""split_counts gives exactly the train/eval rows export_run_data writes (issue #13's pre-launch warning)."""

from __future__ import annotations

import json

from tests.store.helpers import make_pairs
from workbench.store.annotators import get_or_create_annotator
from workbench.store.db import Project
from workbench.store.exports import export_run_data
from workbench.store.labels import add_label
from workbench.store.objectives import add_objective
from workbench.store.run_readiness import split_counts


def test_counts_match_the_export(project: Project, tmp_path) -> None:
    with project.session() as s:
        p = make_pairs(s, 40)
        o1, o2 = add_objective(s, "o1").id, add_objective(s, "o2").id
        a, b = get_or_create_annotator(s, "a").id, get_or_create_annotator(s, "b").id
        for i, pid in enumerate(p):
            add_label(s, pid, o1, a, "a" if i % 3 else "b")
            if i % 4 == 0:
                add_label(s, pid, o1, b, "b" if i % 3 else "a")  # disagreement: an even split is left out
        add_label(s, p[0], o2, a, "tie")  # no decisive label: nothing for o2
        got = split_counts(s, ["o1", "o2"], eval_fraction=0.25, seed=3)
        export_run_data(s, ["o1", "o2"], tmp_path / "data.jsonl", eval_fraction=0.25, seed=3)
        rows = [json.loads(line) for line in (tmp_path / "data.jsonl").read_text().splitlines()]
        expected = {o: (sum(r["split"] == "train" and r["objective"] == o for r in rows),
                        sum(r["split"] == "eval" and r["objective"] == o for r in rows)) for o in ("o1", "o2")}
        assert got == expected
        assert got["o2"] == (0, 0) and sum(got["o1"]) == 30 and got["o1"][1] > 0
