"""import_records: prompts/responses deduplicated by content, duplicates reported by line, labels per objective."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from workbench.core.entities import PreferenceRecord, UnpairedRecord
from workbench.core.errors import InputError
from workbench.store.db import Project
from workbench.store.imports import import_records
from workbench.store.labels import active_labels
from workbench.store.objectives import add_objective, list_objectives
from workbench.store.pairs import count_pairs, pair_view
from workbench.store.schema import LabelRow, PairRow, PromptRow, ResponseRow, UnpairedFeedbackRow


def rec(p: str, c: str, r: str, line: int, **kw) -> PreferenceRecord:
    return PreferenceRecord(prompt=p, chosen=c, rejected=r, line=line, **kw)


def test_import_counts_dedup_and_report(project: Project) -> None:
    with project.session() as s:
        add_objective(s, "helpful")
        report = import_records(s, [
            rec("p1", "good", "bad", 1),
            rec("p1", "good", "bad", 2),                        # same pair, same objective: duplicate
            rec("p1", "good", "bad", 3, objective="harmless"),  # same pair, new objective: a second label
            rec("p1", "bad", "good", 4, objective="honest"),    # the same pair the other way round -> label "b"
            rec("p2", "x", "y", 5, tie=True, extra={"score_chosen": 7.0}),
            rec([{"role": "user", "content": "hi"}], [{"role": "assistant", "content": "hello"}],
                [{"role": "assistant", "content": "go away"}], 6),
        ], default_objective="helpful", source="test.jsonl")
    assert report.pairs_added == 3
    assert report.labels_added == 5
    assert report.duplicates == (2,)
    assert report.objectives_created == ("harmless", "honest")
    with project.session() as s:
        assert count_pairs(s) == 3
        assert s.scalar(select(func.count()).select_from(PromptRow)) == 3
        assert s.scalar(select(func.count()).select_from(ResponseRow)) == 6
        assert [o.name for o in list_objectives(s)] == ["helpful", "harmless", "honest"]
        choices = sorted((lab.pair_id, lab.objective_id, lab.choice) for lab in active_labels(s))
        assert choices == [(1, 1, "a"), (1, 2, "a"), (1, 3, "b"), (2, 1, "tie"), (3, 1, "a")]
        view = pair_view(s, 2)
        assert view.pair.extra == {"score_chosen": 7.0} and view.pair.source == "test.jsonl"
        assert (view.response_a.text, view.response_b.text) == ("x", "y")
        chat = pair_view(s, 3)
        assert chat.prompt.messages == [{"role": "user", "content": "hi"}] and chat.prompt.text == "hi"
        assert s.scalar(select(PairRow.labelled_by).where(PairRow.id == 1)) == 1


def test_reimport_is_all_duplicates(project: Project) -> None:
    records = [rec(f"prompt {i}", f"c{i}", f"r{i}", i + 1) for i in range(50)]
    with project.session() as s:
        first = import_records(s, records, default_objective="o", source="a")
    with project.session() as s:
        second = import_records(s, records, default_objective="o", source="a")
        other = import_records(s, records[:5], default_objective="o", source="a", annotator="alice")
    assert (first.pairs_added, first.labels_added, first.duplicates) == (50, 50, ())
    assert (second.pairs_added, second.labels_added, second.duplicates) == (0, 0, tuple(range(1, 51)))
    assert (other.pairs_added, other.labels_added) == (0, 5)
    with project.session() as s:
        assert count_pairs(s) == 50
        assert s.scalar(select(PairRow.labelled_by).where(PairRow.id == 1)) == 2


def test_unpaired_feedback_and_missing_objective(project: Project) -> None:
    with project.session() as s:
        report = import_records(s, [UnpairedRecord("p", "nice", True, line=1), UnpairedRecord("p", "rude", False,
                                line=2), UnpairedRecord("p", "nice", True, line=3)],
                                default_objective="kind", source="kto")
        assert report.unpaired_added == 2 and report.duplicates == (3,)
        assert sorted(s.scalars(select(UnpairedFeedbackRow.desirable))) == [False, True]
    with pytest.raises(InputError, match=r"^x:7: .*pick a default objective"), project.session() as s:
        import_records(s, [rec("p", "a", "b", 7)], default_objective=None, source="x")
    with pytest.raises(InputError) as err, project.session() as s:
        import_records(s, [rec("p", "same", "same", 9)], default_objective="o", source="x")
    assert err.value.line == 9


def test_labelled_by_matches_a_recount_after_mixed_imports(project: Project) -> None:
    """Pairs created by an import are written with labelled_by = 1; pairs that existed are recounted. Either way
    the column must equal the number of distinct annotators with an active label (the queue relies on it)."""
    first = [rec(f"p{i}", f"c{i}", f"r{i}", i + 1) for i in range(6)]
    with project.session() as s:
        import_records(s, first[:4], default_objective="o", source="a")
        # alice: two pairs that exist (one the other way round), two new pairs, one new objective on an old pair
        import_records(s, [first[0], rec("p1", "r1", "c1", 2), *first[4:], rec("p2", "c2", "r2", 9, objective="x")],
                       default_objective="o", source="a", annotator="alice")
        recount = dict(s.execute(select(LabelRow.pair_id, func.count(func.distinct(LabelRow.annotator_id)))
                                 .where(LabelRow.superseded_at.is_(None)).group_by(LabelRow.pair_id)).all())
        stored = dict(s.execute(select(PairRow.id, PairRow.labelled_by)).all())
    assert stored == recount == {1: 2, 2: 2, 3: 2, 4: 1, 5: 1, 6: 1}


def test_megabyte_and_non_ascii_texts_are_stored_whole(project: Project) -> None:
    """Very long texts are neither truncated nor refused by the store; emoji, CJK and NUL characters survive."""
    from workbench.store.exports import iter_preferences

    big = "word " * 200_000 + "end"  # 1 MB
    odd = "naïve 寿司 🍣 \x00 tab\tquote\" \u2028"
    with project.session() as s:
        import_records(s, [rec(odd, big, odd + "!", 1), rec([{"role": "user", "content": odd}],
                                                           [{"role": "assistant", "content": big}],
                                                           [{"role": "assistant", "content": "no"}], 2)],
                       default_objective="o", source="big.jsonl")
    with project.session() as s:
        records = list(iter_preferences(s, "o"))
    assert [(r.prompt, r.chosen, r.rejected) for r in records] == [
        (odd, big, odd + "!"),
        ([{"role": "user", "content": odd}], [{"role": "assistant", "content": big}],
         [{"role": "assistant", "content": "no"}])]
