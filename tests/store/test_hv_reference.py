"""Issue 11, items 4-5: the base model's reward vector becomes the project's reference point once, through the
ingestion of its `eval` event; the user's values override it per axis and survive reopening the project."""

from __future__ import annotations

from workbench.core.protocol import decode, encode
from workbench.store.db import create_project, open_project
from workbench.store.hv_reference import get_reference, set_reference
from workbench.store.ingest import ingest_events
from workbench.store.runs import create_run, list_evaluations


def _eval(values: dict[str, float], base: bool):
    return decode(encode("eval", "1", step=0, values=values, checkpoint=None, weights=None,
                         **({"base": True} if base else {})))


def test_base_evaluation_sets_the_reference_once_and_the_user_overrides(tmp_path):
    project = create_project(tmp_path / "p.sqlite")
    with project.session() as s:
        run = create_run(s, "r", {"method": "mah_dpo"}, str(tmp_path / "run"))
        ingest_events(s, run.id, [_eval({"brevity/score": 50.0, "detail/score": 3.0}, base=False)])
        assert get_reference(s).values == {}  # a trained point is not a reference
        ingest_events(s, run.id, [_eval({"brevity/score": 40.0, "detail/score": 10.0, "kl": 0.0}, base=True)])
        ingest_events(s, run.id, [_eval({"brevity/score": 41.0, "detail/score": 9.0}, base=True)])  # measured once
        point = get_reference(s)
        assert point.values == {"brevity · score": 40.0, "detail · score": 10.0}
        assert [e.produced_by.get("base_model", False) for e in list_evaluations(s, run.id)][:2] == [False, False]
        assert sum(bool(e.produced_by.get("base_model")) for e in list_evaluations(s, run.id)) == 5
        set_reference(s, {"brevity · score": 45.0})
    project.close()
    project = open_project(tmp_path / "p.sqlite")
    with project.session() as s:
        point = get_reference(s)
        assert point.values == {"brevity · score": 45.0, "detail · score": 10.0}
        assert point.sources == {"brevity · score": "set by user", "detail · score": "base model"}
        set_reference(s, {"brevity · score": None})  # back to the base model's value
        assert get_reference(s).values["brevity · score"] == 40.0
    project.close()
