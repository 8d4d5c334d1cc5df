"""A round's Label step (issue #15): which pairs people are asked about, in what order, and how far they are.

The one rule, shared by the Label panel's round mode, `workbench round PROJECT --step label` and the Rounds panel:
- The round's objectives are its run's `objectives` (empty: every objective of the project).
- A round pair is *labelled* when every one of those objectives has an active label on it, from anyone (people or
  the automatic labeller); a skip is an answer too (the pair then trains on no label for that objective).
- The Label step is done when every round pair is labelled (`close_labelling` marks it).
- People are asked only for what a pair still owes: an objective with an active label already (the automatic
  labeller's in a mix round, or a person's) is shown as given, not asked again (`given_labels`).
- People are asked for the round pairs not labelled yet, in the active order of core.rounds.label_order: the
  implicit-reward margins of the round's parent run (the run whose checkpoint sampled the round): the margin its
  checkpoint gave the pair when the round was generated (pair.extra["margin"], rounds 2 on), else its run folder's
  pair_margins.json; then the automatic labeller's score gap (mix rounds); then generation order. Round 1 has no
  parent run (the base model sampled it): its pairs go by the gap, else in generation order.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.core.rounds import label_order
from workbench.store.schema import LabelRow, ObjectiveRow, PairRow, RoundRow, RunRow

MARGINS_FILE = "pair_margins.json"  # {pair_id: |margin|}, written by a finished run (workbench.training.preference.margins)


def run_objectives(s: Session, names: list[str] | tuple[str, ...]) -> list[str]:
    """A run's objectives: the names it lists, else every objective of the project (in creation order)."""
    return list(names) or list(s.scalars(select(ObjectiveRow.name).order_by(ObjectiveRow.id)))


def round_objective_ids(s: Session, round_id: int) -> list[int]:
    """Ids of the objectives a round's pairs are labelled for (in creation order)."""
    config = dict(s.get_one(RoundRow, round_id).run_config or {})
    names = run_objectives(s, list(config.get("objectives") or []))
    return list(s.scalars(select(ObjectiveRow.id).where(ObjectiveRow.name.in_(names)).order_by(ObjectiveRow.id)))


def labelled_pairs(s: Session, round_id: int, objective_ids: list[int]) -> set[int]:
    """The round's pairs with an active label (anyone's, skips included) for every one of the objectives."""
    if not objective_ids:  # nothing to label for: every pair is (vacuously) labelled
        return set(s.scalars(select(PairRow.id).where(PairRow.round_id == round_id)))
    query = (select(LabelRow.pair_id).join(PairRow, PairRow.id == LabelRow.pair_id)
             .where(PairRow.round_id == round_id, LabelRow.objective_id.in_(objective_ids),
                    LabelRow.superseded_at.is_(None))
             .group_by(LabelRow.pair_id).having(func.count(func.distinct(LabelRow.objective_id)) == len(objective_ids)))
    return set(s.scalars(query))


@dataclass(frozen=True)
class GivenLabel:
    """An objective a round pair already has an answer for: who gave it (an annotator name; `automatic` by
    core.rounds.is_automatic) and the choice, in pair terms (a | b | tie | skip)."""

    annotator: str
    choice: str
    automatic: bool


def given_labels(s: Session, pair_id: int, objective_ids: list[int]) -> dict[int, GivenLabel]:
    """objective id -> the answer a round pair already has for it (the newest active label, from anyone): what the
    Label panel's round mode shows as given instead of asking (the module's rule: one label per objective)."""
    from workbench.core.rounds import is_automatic
    from workbench.store.schema import AnnotatorRow

    rows = s.execute(select(LabelRow.objective_id, AnnotatorRow.name, LabelRow.choice)
                     .join(AnnotatorRow, AnnotatorRow.id == LabelRow.annotator_id)
                     .where(LabelRow.pair_id == pair_id, LabelRow.objective_id.in_(objective_ids),
                            LabelRow.superseded_at.is_(None)).order_by(LabelRow.id))
    return {int(oid): GivenLabel(name, choice, is_automatic(name)) for oid, name, choice in rows}


def label_progress(s: Session, round_id: int, objective_ids: list[int]) -> tuple[int, int]:
    """(labelled pairs, pairs) of a round: "Round N: k of m pairs labelled"."""
    total = int(s.scalar(select(func.count()).select_from(PairRow).where(PairRow.round_id == round_id)) or 0)
    return len(labelled_pairs(s, round_id, objective_ids)), total


def parent_run(s: Session, number: int) -> RunRow | None:
    """The run whose final checkpoint sampled round `number` (round number - 1's run); None for round 1."""
    row = s.scalar(select(RoundRow).where(RoundRow.number == number - 1))
    if row is None:
        return None
    return s.scalar(select(RunRow).where(RunRow.round_id == row.id).order_by(RunRow.id.desc()).limit(1))


def run_margins(run_dir: str | Path) -> dict[int, float]:
    """A run's pair_margins.json ({} when it has none: not finished, active_candidates 0, or unreadable)."""
    try:
        data = json.loads((Path(run_dir) / MARGINS_FILE).read_text(encoding="utf-8"))
        return {int(k): float(v) for k, v in dict(data).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


@dataclass(frozen=True)
class RoundQueue:
    """What the Label panel's round mode asks for: `pair_ids` (the round's pairs not labelled yet) in active order,
    for `objective_ids`; `labelled` of `total` pairs are labelled; `margins` of them come ordered by the parent
    run's margins (run `parent_run_id`), `gaps` by the automatic labeller's score gap, the rest by generation."""

    number: int
    round_id: int
    objective_ids: list[int]
    pair_ids: list[int]
    labelled: int
    total: int
    parent_run_id: int | None
    margin_ids: frozenset[int]  # the pairs ordered by the parent run's margins
    gap_ids: frozenset[int]  # the pairs ordered by the automatic labeller's gap

    @property
    def margins(self) -> int:
        return len(self.margin_ids)

    @property
    def gaps(self) -> int:
        return len(self.gap_ids)

    def left(self, labelled: set[int]) -> RoundQueue:
        """This queue without the pairs labelled since it was made (the banner's words after each label: no
        second pass over the store or the parent run's margins file)."""
        keep = [p for p in self.pair_ids if p not in labelled]
        return dataclasses.replace(self, pair_ids=keep, labelled=self.total - len(keep),
                                   margin_ids=self.margin_ids - labelled, gap_ids=self.gap_ids - labelled)

    def order_text(self) -> str:
        """How the pairs are ordered, in words (the banner's tooltip and the CLI line)."""
        parts = []
        if self.margins:
            parts.append(f"{self.margins} by run {self.parent_run_id}'s margins (smallest first)")
        if self.gaps:
            parts.append(f"{self.gaps} by the scorers' gap (smallest first)")
        rest = len(self.pair_ids) - self.margins - self.gaps
        if rest:
            why = ("round 1 was sampled by the base model, which has no run" if self.parent_run_id is None else
                   f"run {self.parent_run_id} has no margins for them")
            parts.append(f"{rest} in generation order ({why})")
        return "; ".join(parts) if parts else "nothing left to label"


def round_label_queue(s: Session, number: int) -> RoundQueue:
    """The round's Label step as the module docstring defines it."""
    from workbench.store.rounds import get_round, round_pair_ids
    from workbench.store.runs import get_run

    rnd = get_round(s, number)
    objective_ids = round_objective_ids(s, rnd.id)
    pair_ids = round_pair_ids(s, rnd.id)
    done = labelled_pairs(s, rnd.id, objective_ids)
    owed = [p for p in pair_ids if p not in done]
    parent = parent_run(s, number)
    all_margins = run_margins(get_run(s, parent.id).run_dir) if parent is not None else {}  # run_dir: absolute
    margins = {p: all_margins[p] for p in owed if p in all_margins}
    gaps: dict[int, float] = {}
    if owed:
        for pid, extra in s.execute(select(PairRow.id, PairRow.extra).where(PairRow.id.in_(owed))):
            extra = dict(extra or {})
            if parent is not None and extra.get("margin") is not None:
                margins[pid] = float(extra["margin"])
            values = [abs(float(g)) for g in dict(extra.get("gap", {})).values()]
            if values and pid not in margins:
                gaps[pid] = min(values)
    return RoundQueue(number, rnd.id, objective_ids, label_order(owed, margins, gaps), len(done), len(pair_ids),
                      parent.id if parent is not None else None, frozenset(margins), frozenset(gaps))


def close_labelling(s: Session, number: int) -> bool:
    """Mark round `number`'s Label step done when all its pairs are labelled, and open it again when an undo took
    a label back before the round's training started (Train must not stay offered); True when it is done."""
    from workbench.store.rounds import get_round, mark_done

    rnd = get_round(s, number)
    labelled, total = label_progress(s, rnd.id, round_objective_ids(s, rnd.id))
    done = bool(rnd.done.get("label"))
    if labelled >= total:
        if not done:
            mark_done(s, rnd.id, "label")
        return True
    if done and rnd.run_id is None and rnd.settings.labeller != "scorers":
        mark_done(s, rnd.id, "label", False)
        return False
    return done
