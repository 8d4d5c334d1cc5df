"""What a finished vector reward model writes for the project's unlabelled pairs (issue #17 item 4b, 4c).

The store exported them into run_dir/candidates.jsonl (one row per pair and objective it still lacks a label for,
chosen = response A, rejected = response B; store/exports.py), as for a policy run. Every row is scored on its
objective's output:
- run_dir/pair_suggestions.json (core/rm_suggestions.py): per pair and objective P(A preferred) = σ(r_a − r_b),
  the label the Label panel suggests;
- run_dir/pair_margins.json (training/margins.py's file): per pair the smallest |r_a − r_b| over its objectives,
  so the "active" labelling order puts the pairs the reward model is least sure about first, exactly as it does
  with a policy's implicit-reward margins (store/queue.py reads the newest such file).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from workbench.core.eta import EtaClock, eta_text
from workbench.core.rm_suggestions import SUGGESTIONS_FILE, Suggestion, Suggestions, probability_a, \
    write_suggestions_file
from workbench.training.data import read_run_data, tokenize_pairs
from workbench.training.margins import CANDIDATES_FILE, MARGINS_FILE, write_margins

if TYPE_CHECKING:
    from workbench.training.reward_models.vector_rm_trainer import VectorRMTrainer

CHUNK = 64  # sequences per progress report / stop check


def write_suggestions(trainer: VectorRMTrainer, emit: Callable[..., None],
                      should_stop: Callable[[], bool]) -> int | None:
    """Score the candidates, write both files; the number of pairs, or None when a stop request cut it short."""
    cfg, run_dir = trainer.cfg, Path(trainer.run_dir)
    path = run_dir / CANDIDATES_FILE
    objectives = list(trainer.info.objectives)
    rows = [r for r in read_run_data(path) if r.objective in set(objectives)] if path.exists() else []
    data = tokenize_pairs(rows, trainer.tokenizer, max_length=cfg.max_length, max_prompt_length=cfg.max_prompt_length)
    seqs = [data.prompt_ids[i] + data.chosen_ids[i] for i in range(len(data))]
    seqs += [data.prompt_ids[i] + data.rejected_ids[i] for i in range(len(data))]
    scores = torch.zeros(len(seqs), len(objectives), dtype=torch.float64)
    clock = EtaClock(len(seqs))
    for start in range(0, len(seqs), CHUNK):
        if should_stop():
            emit("log", level="info", message="stopped before the reward model's suggestions were written")
            return None
        scores[start:start + CHUNK] = trainer.score_rows(seqs[start:start + CHUNK])
        fraction, eta = clock.update(min(len(seqs), start + CHUNK))
        emit("status", state="evaluating", message=f"suggesting labels for unlabelled pairs{eta_text(eta)}",
             progress=fraction, eta_s=eta, step=trainer.pos.step, total_steps=trainer.total_steps)
    n = len(data)
    index = {name: k for k, name in enumerate(objectives)}
    suggestions: Suggestions = {}
    margins: dict[int, float] = {}
    for i in range(n):
        name = data.objectives[data.objective[i]]
        k = index[name]
        r_a, r_b = float(scores[i, k]), float(scores[n + i, k])
        pid = data.pair_id[i]
        suggestions.setdefault(pid, {})[name] = Suggestion(pid, name, probability_a(r_a, r_b), r_a, r_b)
        margins[pid] = min(abs(r_a - r_b), margins.get(pid, abs(r_a - r_b)))
    write_suggestions_file(run_dir / SUGGESTIONS_FILE, run_dir.name, objectives, suggestions)
    write_margins(run_dir / MARGINS_FILE, margins)
    emit("log", level="info", message=f"suggested labels for {len(suggestions)} unlabelled pairs "
                                      f"({n} pair-objective rows) and wrote their margins for the active order")
    return len(suggestions)
