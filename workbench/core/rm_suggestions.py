"""Suggested labels from a trained vector reward model (issue #17 item 4b): the file format, the suggestion a pair
gets on an objective, and how often the model agrees with the people who then label it.

A finished `reward_model` run scores the unlabelled candidate pairs the store exported (candidates.jsonl, like the
policy margins of workbench.training.margins) and writes run_dir/pair_suggestions.json:

    {"format": 1, "run": "<run folder>", "objectives": [...],
     "pairs": {"<pair_id>": {"<objective>": {"p_a": P, "r_a": r_a, "r_b": r_b}}}}

P = σ(r_a − r_b) is the Bradley-Terry probability that response A is preferred (Bradley & Terry 1952). The Label
panel shows it ("model suggests A (p=0.83)"); the annotator confirms with a key or labels otherwise, and the label
is the annotator's own either way. Agreement of the model with the people: accuracy (share of decisive human
labels the suggestion matches) and Cohen's κ between the suggestion and the human choice (core.agreement).
Pure: stdlib + numpy, read by the GUI process, written by the worker.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from workbench.core.agreement import cohen_kappa
from workbench.core.entities import Label

SUGGESTIONS_FILE = "pair_suggestions.json"
FORMAT = 1


@dataclass(frozen=True)
class Suggestion:
    pair_id: int
    objective: str
    p_a: float  # P(A preferred) under the reward model
    r_a: float = math.nan
    r_b: float = math.nan

    @property
    def choice(self) -> str:
        """"a" or "b": the response the model prefers (a tie of rewards suggests A)."""
        return "a" if self.p_a >= 0.5 else "b"

    @property
    def confidence(self) -> float:
        """The model's probability of its own suggestion, in [0.5, 1]."""
        return max(self.p_a, 1.0 - self.p_a)


def probability_a(r_a: float, r_b: float) -> float:
    """σ(r_a − r_b), computed without overflow."""
    d = r_a - r_b
    return 1.0 / (1.0 + math.exp(-d)) if d >= 0 else math.exp(d) / (1.0 + math.exp(d))


Suggestions = dict[int, dict[str, Suggestion]]  # pair id -> objective -> suggestion


def write_suggestions_file(path: Path, run: str, objectives: list[str], suggestions: Suggestions) -> None:
    """Replace `path` atomically (the GUI may read it at any moment)."""
    pairs = {str(pid): {o: {"p_a": s.p_a, "r_a": s.r_a, "r_b": s.r_b} for o, s in sorted(per.items())}
             for pid, per in sorted(suggestions.items())}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"format": FORMAT, "run": run, "objectives": list(objectives), "pairs": pairs}),
                   encoding="utf-8")
    os.replace(tmp, path)


def read_suggestions(path: Path) -> Suggestions:
    """The suggestions of one file; ValueError when it is not one this version can read."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict) or int(data.get("format", 0)) != FORMAT or not isinstance(data.get("pairs"), dict):
        raise ValueError(f"{path} is not a suggestions file this version can read")
    out: Suggestions = {}
    for pid, per in data["pairs"].items():
        out[int(pid)] = {o: Suggestion(int(pid), o, float(v["p_a"]), float(v.get("r_a", math.nan)),
                                       float(v.get("r_b", math.nan))) for o, v in per.items()}
    return out


def latest_suggestions(runs_root: Path | None) -> tuple[Path, Suggestions] | None:
    """(file, suggestions) of the newest run folder holding a readable pair_suggestions.json, else None (the same
    rule as the active queue's latest pair_margins.json)."""
    if runs_root is None or not Path(runs_root).is_dir():
        return None
    files = sorted(Path(runs_root).glob(f"*/{SUGGESTIONS_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in files:
        try:
            return path, read_suggestions(path)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue
    return None


@dataclass(frozen=True)
class ModelAgreement:
    objective: str
    compared: int  # decisive human labels (a/b) on pairs the model made a suggestion for
    accuracy: float  # share of them the suggestion matches; NaN when none
    kappa: float  # Cohen's κ, model vs humans over those labels; NaN when undefined


def model_agreement(suggestions: Suggestions, labels: Iterable[Label], objective_names: Mapping[int, str],
                    machine_annotators: Iterable[int] = ()) -> list[ModelAgreement]:
    """Per objective with suggestions: the model against every active, decisive label of a person (ties and skips
    carry no preference to compare; imported/machine annotators are not people)."""
    machines = set(machine_annotators)
    model: dict[str, list[str]] = {}
    human: dict[str, list[str]] = {}
    for lab in labels:
        name = objective_names.get(lab.objective_id)
        if lab.superseded or lab.annotator_id in machines or lab.choice not in ("a", "b") or name is None:
            continue
        s = suggestions.get(lab.pair_id, {}).get(name)
        if s is None:
            continue
        model.setdefault(name, []).append(s.choice)
        human.setdefault(name, []).append(lab.choice)
    names = sorted({o for per in suggestions.values() for o in per})
    out = []
    for name in names:
        m, h = model.get(name, []), human.get(name, [])
        acc = sum(x == y for x, y in zip(m, h)) / len(m) if m else math.nan
        out.append(ModelAgreement(name, len(m), acc, cohen_kappa(m, h) if m else math.nan))
    return out
