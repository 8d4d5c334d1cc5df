"""Whether each objective of a run has enough labelled pairs to train and to evaluate (issue #13: a warning before
launch, not a run that fails or evaluates nothing). Pure: the counts come from workbench.store.run_readiness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def label_warnings(objectives: Sequence[str], counts: Mapping[str, tuple[int, int]], batch_size: int, *,
                   unit: str = "pair") -> list[str]:
    """One sentence per problem; `counts[objective]` = (training pairs, held-out pairs) as the run would export
    them (pairs with a decisive majority, split by store.exports.split_of). `unit`: what is counted ("pair", or
    "step-labelled response" for a PRM run)."""
    out = []
    for name in objectives:
        train, held_out = counts.get(name, (0, 0))
        if train == 0:
            what = "labelled pair" if unit == "pair" else unit
            out.append(f"{name}: no {what} to train on (label some, or leave this objective out)")
        elif train < batch_size:
            out.append(f"{name}: only {train} training {unit}{'s' if train != 1 else ''}, fewer than one batch "
                       f"({batch_size})")
        if train and held_out == 0:
            out.append(f"{name}: no held-out {unit}, so its accuracy and margin cannot be evaluated (label more "
                       f"{unit}s or raise eval_fraction)")
    return out
