"""Implicit-reward margins of a finished run's policy, for the "active" labelling order (store/queue.py).

DPO's implicit reward is r(x, y) = β·log(π(y|x) / π_ref(y|x)) (Rafailov et al. 2023, eq. 5), so a pair's margin is
m = β·((log π(y_a|x) − log π_ref(y_a|x)) − (log π(y_b|x) − log π_ref(y_b|x))). A small |m| means the trained
policy barely prefers either response: labelling those pairs first is uncertainty sampling (Settles 2009, §3.1).

At the end of a finished run the worker scores the run's own pairs (data.jsonl) and the unlabelled candidate
pairs the store exported (candidates.jsonl, see store/run_prep.py) and writes run_dir/pair_margins.json,
{pair_id: |m|}. Policy log-probs come from the run's `Method.policy_logps`, so a MAH-DPO run scores each row with
its objective's head; the reference is the base model (adapter disabled). A pair listed for several objectives
keeps its smallest |m|: the objective the policy is least sure about decides where the pair goes in the queue.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from workbench.training.data import Batch, TokenizedData, read_run_data, tokenize_pairs
from workbench.training.logprobs import SeqLogps
from workbench.training.reference import logps_table, pair_table

if TYPE_CHECKING:
    from workbench.training.trainer import Trainer

MARGINS_FILE = "pair_margins.json"
CANDIDATES_FILE = "candidates.jsonl"

PolicyLogps = Callable[[torch.nn.Module, Batch], SeqLogps]  # Method.policy_logps(model, batch)
Progress = Callable[[int, int], None]


class Stopped(Exception):
    """A stop request arrived while margins were being computed: no file is written."""


def policy_table(model: torch.nn.Module, policy_logps: PolicyLogps, data: TokenizedData, *, batch_size: int,
                 pad_id: int, autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                 should_stop: Callable[[], bool] = lambda: False, progress: Progress | None = None) -> Tensor:
    """[N, 2] (chosen, rejected) summed completion log-probs under the policy (adapter on, the method's heads),
    no grad, eval mode, length-sorted batches. Raises Stopped when `should_stop()` turns true between batches."""

    def check_stop() -> None:
        if should_stop():
            raise Stopped()

    def batch_logps(batch: Batch) -> Tensor:
        with autocast():
            return policy_logps(model, batch).sum

    return pair_table(model, data, batch_logps, batch_size=batch_size, pad_id=pad_id, progress=progress,
                      before_batch=check_stop)


def implicit_margins(policy: Tensor, ref: Tensor, beta: float) -> Tensor:
    """[N] β·((π_c − ref_c) − (π_r − ref_r)) from [N, 2] log-prob tables (Rafailov et al. 2023, eq. 5)."""
    return beta * ((policy[:, 0] - ref[:, 0]) - (policy[:, 1] - ref[:, 1]))


def smallest_per_pair(pair_ids: list[int], margins: Tensor, into: dict[int, float] | None = None) -> dict[int, float]:
    """{pair_id: min |margin|} over a pair's rows (one row per objective), merged into `into`."""
    out = into if into is not None else {}
    for pid, m in zip(pair_ids, margins.abs().tolist()):
        out[pid] = min(m, out.get(pid, m))
    return out


def candidate_data(path: Path, tokenizer: Any, objectives: list[str], *, max_length: int,
                   max_prompt_length: int) -> TokenizedData:
    """Tokenized candidates.jsonl rows for the run's objectives, their objective indices renumbered to the run's
    `objectives` (MAH-DPO picks head k by that index). Rows of other objectives are left out: the run has no
    head (MAH-DPO) or no training signal (MODPO's non-target objectives) for them."""
    if not path.exists():
        return TokenizedData(objectives=list(objectives))
    rows = [r for r in read_run_data(path) if r.objective in set(objectives)]
    data = tokenize_pairs(rows, tokenizer, max_length=max_length, max_prompt_length=max_prompt_length)
    index = {name: i for i, name in enumerate(objectives)}
    data.objective = [index[data.objectives[k]] for k in data.objective]
    data.objectives = list(objectives)
    return data


def write_margins(path: Path, margins: dict[int, float]) -> None:
    """JSON {pair_id: margin}, replaced atomically (the GUI may read it at any moment)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({str(k): v for k, v in sorted(margins.items())}), encoding="utf-8")
    os.replace(tmp, path)


def read_margins(path: Path) -> dict[int, float]:
    return {int(k): float(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}


def score_data(model: torch.nn.Module, policy_logps: PolicyLogps, data: TokenizedData, ref: Tensor | None, *,
               beta: float, batch_size: int, chunk_tokens: int, pad_id: int,
               autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
               should_stop: Callable[[], bool] = lambda: False, progress: Progress | None = None) -> Tensor:
    """[N] signed margins of `data`'s pairs; `ref` [N, 2] when already known (the run's cached reference),
    else computed here with the adapter disabled."""
    if len(data) == 0:
        return torch.zeros(0)
    if ref is None:
        if should_stop():
            raise Stopped()
        ref = logps_table(model, data, batch_size=batch_size, chunk_tokens=chunk_tokens, pad_id=pad_id)
    policy = policy_table(model, policy_logps, data, batch_size=batch_size, pad_id=pad_id, autocast=autocast,
                          should_stop=should_stop, progress=progress)
    return implicit_margins(policy, ref.float().cpu(), beta)


def write_run_margins(trainer: Trainer, emit: Callable[..., None], should_stop: Callable[[], bool]) -> int | None:
    """Score the finished run's pairs and candidates, write run_dir/pair_margins.json; the number of pairs, or
    None when a stop request interrupted it. `trainer` is a prepared workbench.training.trainer.Trainer."""
    cfg, run_dir = trainer.cfg, Path(trainer.run_dir)
    pad_id = trainer.tokenizer.pad_token_id
    candidates = (candidate_data(run_dir / CANDIDATES_FILE, trainer.tokenizer, list(trainer.data.objectives),
                                 max_length=cfg.max_length, max_prompt_length=cfg.max_prompt_length)
                  if cfg.active_candidates > 0 else TokenizedData())
    total = len(trainer.data) + len(candidates)

    def progress(base: int) -> Progress:
        return lambda n, _total: emit("status", state="evaluating", message="scoring pairs for active labelling",
                                      progress=(base + n) / max(1, total), step=trainer.pos.step,
                                      total_steps=getattr(trainer, "total_steps", 0))

    margins: dict[int, float] = {}
    base = 0
    try:
        own_ref = (trainer.ref.complete(batch_size=cfg.batch_size, device=trainer.device)
                   if trainer.ref is not None else None)
        for data, ref in ((trainer.data, own_ref), (candidates, None)):
            m = score_data(trainer.model, trainer.method.policy_logps, data, ref, beta=cfg.beta,
                           batch_size=cfg.batch_size, chunk_tokens=cfg.logprob_chunk, pad_id=pad_id,
                           autocast=trainer._autocast, should_stop=should_stop, progress=progress(base))
            smallest_per_pair(list(data.pair_id), m, margins)
            base += len(data)
    except Stopped:
        emit("log", level="info", message="stopped before the pair margins were written")
        return None
    write_margins(run_dir / MARGINS_FILE, margins)
    unlabelled = len(set(candidates.pair_id))
    emit("log", level="info", message=f"wrote implicit-reward margins of {len(margins)} pairs ({unlabelled} "
                                      f"unlabelled) for the active labelling order")
    return len(margins)
