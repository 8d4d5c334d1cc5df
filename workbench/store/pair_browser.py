"""The pair browser's query (issue #13): pairs filtered by objective, label state, annotator and disagreement, and
found by text, each with the counts of its active decisions. Disagreement is the same rule as the agreement
dialog's disputed pairs (workbench.core.agreement: different annotators chose differently; ties and skips carry no
direction)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from workbench.store.schema import LabelRow, PairRow, PromptRow, ResponseRow

STATES = ("any", "unlabelled", "labelled", "disputed")


@dataclass(frozen=True)
class PairRowView:
    pair_id: int
    prompt: str  # the prompt's text, cut to a line
    counts: dict[str, int] = field(default_factory=dict)  # choice -> active labels (of the objective, if given)
    annotators: int = 0
    disputed: bool = False


def browse_pairs(s: Session, *, objective_id: int | None = None, state: str = "any",
                 annotator_id: int | None = None, search: str = "", limit: int = 500) -> list[PairRowView]:
    """Pairs matching every filter, in import order, at most `limit`. `search` matches the prompt or either
    response (case-insensitive substring), or "#123" the pair id."""
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}")
    active = [LabelRow.pair_id == PairRow.id, LabelRow.superseded_at.is_(None)]
    if objective_id is not None:
        active.append(LabelRow.objective_id == objective_id)
    query = select(PairRow.id, PromptRow.text).join(PromptRow, PromptRow.id == PairRow.prompt_id)
    if state == "unlabelled":
        query = query.where(~exists().where(*active, LabelRow.choice != "skip"))
    elif state in ("labelled", "disputed"):
        query = query.where(exists().where(*active, LabelRow.choice != "skip"))
    if annotator_id is not None:
        query = query.where(exists().where(*active, LabelRow.annotator_id == annotator_id))
    text = search.strip()
    if text.startswith("#") and text[1:].isdigit():
        query = query.where(PairRow.id == int(text[1:]))
    elif text:
        like = f"%{text}%"
        in_response = exists().where(ResponseRow.id.in_([PairRow.response_a_id, PairRow.response_b_id]),
                                     ResponseRow.text.ilike(like))
        query = query.where(or_(PromptRow.text.ilike(like), in_response))
    out: list[PairRowView] = []
    rows = s.execute(query.order_by(PairRow.id).limit(limit if state != "disputed" else limit * 20)).all()
    labels = _labels(s, [r[0] for r in rows], objective_id)
    for pid, prompt in rows:
        mine = labels.get(pid, [])
        counts = Counter(choice for _, _, choice in mine if choice != "skip")
        disputed = _disputed(mine)
        if state == "disputed" and not disputed:
            continue
        out.append(PairRowView(pid, " ".join(prompt.split())[:160], dict(counts),
                               len({a for _, a, c in mine if c != "skip"}), disputed))
        if len(out) >= limit:
            break
    return out


def _labels(s: Session, pair_ids: list[int], objective_id: int | None) -> dict[int, list[tuple[int, int, str]]]:
    out: dict[int, list[tuple[int, int, str]]] = {}
    for start in range(0, len(pair_ids), 500):
        query = select(LabelRow.pair_id, LabelRow.objective_id, LabelRow.annotator_id, LabelRow.choice).where(
            LabelRow.pair_id.in_(pair_ids[start:start + 500]), LabelRow.superseded_at.is_(None))
        if objective_id is not None:
            query = query.where(LabelRow.objective_id == objective_id)
        for pid, oid, aid, choice in s.execute(query):
            out.setdefault(pid, []).append((oid, aid, choice))
    return out


def _disputed(labels: list[tuple[int, int, str]]) -> bool:
    """Some objective where two annotators chose opposite responses."""
    by_objective: dict[int, set[str]] = {}
    for oid, _, choice in labels:
        if choice in ("a", "b"):
            by_objective.setdefault(oid, set()).add(choice)
    return any(len(choices) > 1 for choices in by_objective.values())
