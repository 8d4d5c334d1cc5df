"""Project statistics for the overview screen: sizes, per-objective coverage, per-annotator activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workbench.store.clock import aware
from workbench.store.step_labels import active_rating
from workbench.store.schema import (AnnotatorRow, LabelRow, ObjectiveRow, PairRow, PromptRow, ResponseRow, StepLabelRow,
                                    StepRow)


@dataclass(frozen=True)
class ObjectiveStats:
    objective_id: int
    name: str
    labelled_pairs: int  # pairs with at least one active label other than 'skip'
    labels: int  # active labels, skips included
    coverage: float  # labelled_pairs / pairs (0 when the project has no pairs)
    step_labels: int = 0  # active step ratings (good / neutral / bad; a cleared rating is none)
    rated_responses: int = 0  # responses with at least one of them


@dataclass(frozen=True)
class AnnotatorStats:
    annotator_id: int
    name: str
    labels: int  # active labels
    last_label_at: datetime | None
    labels_per_hour: float  # decisions (relabels included) in the hour up to the last one: the recent pace
    step_labels: int = 0  # active step ratings


@dataclass(frozen=True)
class ProjectStats:
    pairs: int
    prompts: int
    responses: int
    objectives: tuple[ObjectiveStats, ...]
    annotators: tuple[AnnotatorStats, ...]


def _count(s: Session, table: type) -> int:
    return int(s.scalar(select(func.count()).select_from(table)) or 0)


def _objective_stats(s: Session, pairs: int) -> tuple[ObjectiveStats, ...]:
    active = LabelRow.superseded_at.is_(None)
    labels = dict(s.execute(select(LabelRow.objective_id, func.count()).where(active)
                            .group_by(LabelRow.objective_id)).all())
    labelled = dict(s.execute(select(LabelRow.objective_id, func.count(func.distinct(LabelRow.pair_id)))
                              .where(active, LabelRow.choice != "skip").group_by(LabelRow.objective_id))
                    .all())
    steps = {oid: (int(n), int(r)) for oid, n, r in s.execute(
        select(StepLabelRow.objective_id, func.count(), func.count(func.distinct(StepRow.response_id)))
        .join(StepRow, StepRow.id == StepLabelRow.step_id).where(active_rating())
        .group_by(StepLabelRow.objective_id))}
    out = []
    for oid, name in s.execute(select(ObjectiveRow.id, ObjectiveRow.name).order_by(ObjectiveRow.id)):
        n = int(labelled.get(oid, 0))
        step_labels, rated_responses = steps.get(oid, (0, 0))
        out.append(ObjectiveStats(objective_id=oid, name=name, labelled_pairs=n, labels=int(labels.get(oid, 0)),
                                  coverage=n / pairs if pairs else 0.0, step_labels=step_labels,
                                  rated_responses=rated_responses))
    return tuple(out)


def _annotator_stats(s: Session) -> tuple[AnnotatorStats, ...]:
    active = dict(s.execute(select(LabelRow.annotator_id, func.count()).where(LabelRow.superseded_at.is_(None))
                            .group_by(LabelRow.annotator_id)).all())
    last = dict(s.execute(select(LabelRow.annotator_id, func.max(LabelRow.created_at))
                          .group_by(LabelRow.annotator_id)).all())
    steps = dict(s.execute(select(StepLabelRow.annotator_id, func.count()).where(active_rating())
                           .group_by(StepLabelRow.annotator_id)).all())
    out = []
    for aid, name in s.execute(select(AnnotatorRow.id, AnnotatorRow.name).order_by(AnnotatorRow.id)):
        last_at = last.get(aid)
        recent = 0
        if last_at is not None:
            recent = int(s.scalar(select(func.count()).select_from(LabelRow).where(
                LabelRow.annotator_id == aid, LabelRow.created_at >= last_at - timedelta(hours=1))) or 0)
        out.append(AnnotatorStats(annotator_id=aid, name=name, labels=int(active.get(aid, 0)),
                                  last_label_at=aware(last_at), labels_per_hour=float(recent),
                                  step_labels=int(steps.get(aid, 0))))
    return tuple(out)


def project_stats(s: Session) -> ProjectStats:
    pairs = _count(s, PairRow)
    return ProjectStats(pairs=pairs, prompts=_count(s, PromptRow), responses=_count(s, ResponseRow),
                        objectives=_objective_stats(s, pairs), annotators=_annotator_stats(s))
