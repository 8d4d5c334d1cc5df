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

from workbench.core.eta import EtaClock, eta_text
from workbench.training.engine.data import Batch, TokenizedData, collate, read_run_data, tokenize_pairs
from workbench.training.parallel.distributed import is_main_process
from workbench.training.engine.logprobs import SeqLogps, _causal_lm
from workbench.training.engine.reference_cache import ReferenceCache
from workbench.training.engine.shared_reference import SHARED_DIR, SharedReference

if TYPE_CHECKING:
    from workbench.training.engine.trainer import Trainer

MARGINS_FILE = "pair_margins.json"
CANDIDATES_FILE = "candidates.jsonl"
CANDIDATES_REF_FILE = "candidates_ref_logps.pt"

PolicyLogps = Callable[[torch.nn.Module, Batch], SeqLogps]  # Method.policy_logps(model, batch)
Progress = Callable[[int, int], None]


class Stopped(Exception):
    """A stop request arrived while margins were being computed: no file is written."""


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
    """JSON {pair_id: margin}, replaced atomically (the GUI may read it at any moment); rank 0 alone writes."""
    if not is_main_process():
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({str(k): v for k, v in sorted(margins.items())}), encoding="utf-8")
    os.replace(tmp, path)


def read_margins(path: Path) -> dict[int, float]:
    return {int(k): float(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}


@torch.no_grad()
def score_margins(model: torch.nn.Module, policy_logps: PolicyLogps, data: TokenizedData, ref: ReferenceCache, *,
                  beta: float, batch_size: int, pad_id: int,
                  autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
                  should_stop: Callable[[], bool] = lambda: False, progress: Progress | None = None) -> Tensor:
    """[N] signed margins of `data`'s pairs in one pass over length-sorted batches: per batch, the reference of the
    pairs `ref` does not know yet (adapter disabled, stored in `ref`), then the policy (adapter on, the method's
    heads). A pair with a cached reference costs one forward, one without costs two; nothing is computed twice.
    `progress(done, total)` counts forwards (pairs); raises Stopped when `should_stop()` turns true between batches."""
    out = torch.zeros(len(data), dtype=torch.float64)
    order = sorted(range(len(data)), key=data.length)
    total, done = len(data) + int((~ref.known).sum()), 0
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(order), batch_size):
            if should_stop():
                raise Stopped()
            idx = order[start:start + batch_size]
            batch = collate(data, idx, pad_id, device)
            missing = [i for i in idx if not ref.known[i]]
            if missing:  # only those rows: the others' reference is known (this run's or another's, see ref.shared)
                ref.ensure(batch if len(missing) == len(idx) else collate(data, missing, pad_id, device))
            done += len(missing)
            with autocast():
                lp = policy_logps(model, batch).sum.double().cpu()  # [2B]
            r = ref[torch.tensor(idx)].double()
            out[idx] = beta * ((lp[:len(idx)] - r[:, 0]) - (lp[len(idx):] - r[:, 1]))
            done += len(idx)
            if progress:
                progress(done, total)
    finally:
        model.train(was_training)
    return out


def write_run_margins(trainer: Trainer, emit: Callable[..., None], should_stop: Callable[[], bool]) -> int | None:
    """Score the finished run's pairs and candidates, write run_dir/pair_margins.json; the number of pairs, or
    None when a stop request interrupted it. `trainer` is a prepared workbench.training.engine.trainer.Trainer.

    References are cached per pair (reference_cache.py): the run's own in its ref_logps.pt (pairs it trained on
    are known already), the candidates' in candidates_ref_logps.pt, so a stopped pass resumes where it was, and
    in the project's table of candidate references (<runs root>/reference_cache, shared_reference.py), so a later
    run on the same base model pays only the policy forward for candidates an earlier run scored."""
    cfg, run_dir = trainer.cfg, Path(trainer.run_dir)
    pad_id = trainer.tokenizer.pad_token_id
    candidates = (candidate_data(run_dir / CANDIDATES_FILE, trainer.tokenizer, list(trainer.data.objectives),
                                 max_length=cfg.max_length, max_prompt_length=cfg.max_prompt_length)
                  if cfg.active_candidates > 0 else TokenizedData())

    def cache(data: TokenizedData, path: Path | None, shared: SharedReference | None = None) -> ReferenceCache:
        return ReferenceCache(trainer.model, data, chunk_tokens=cfg.logprob_chunk, pad_id=pad_id,
                              model_id=cfg.model, path=path, share_prompt=cfg.prefix_sharing, shared=shared)

    own = trainer.ref if trainer.ref is not None else cache(trainer.data, None)  # reference-free losses: no file
    shared = SharedReference(run_dir.parent / SHARED_DIR, cfg.model, _causal_lm(trainer.model).dtype)
    parts = [(trainer.data, own), (candidates, cache(candidates, run_dir / CANDIDATES_REF_FILE, shared))]
    work = [len(d) + int((~c.known).sum()) for d, c in parts]  # forwards: one per pair, two without a reference
    total = sum(work)
    clock = EtaClock(total)

    def progress(base: int) -> Progress:
        def report(n: int, _total: int) -> None:
            fraction, eta = clock.update(base + n)
            emit("status", state="evaluating", message=f"scoring pairs for active labelling{eta_text(eta)}",
                 progress=fraction, eta_s=eta, step=trainer.pos.step,
                 total_steps=getattr(trainer, "total_steps", 0))
        return report

    margins: dict[int, float] = {}
    base = 0
    try:
        progress(0)(0, total)
        for (data, ref), units in zip(parts, work):
            m = score_margins(trainer.model, trainer.method.policy_logps, data, ref, beta=cfg.beta,
                              batch_size=cfg.batch_size, pad_id=pad_id, autocast=trainer._autocast,
                              should_stop=should_stop, progress=progress(base))
            smallest_per_pair(list(data.pair_id), m, margins)
            base += units
    except Stopped:
        emit("log", level="info", message="stopped before the pair margins were written")
        return None
    finally:
        for _, ref in parts:
            ref.save()
    write_margins(run_dir / MARGINS_FILE, margins)
    unlabelled = len(set(candidates.pair_id))
    emit("log", level="info", message=f"wrote implicit-reward margins of {len(margins)} pairs ({unlabelled} "
                                      f"unlabelled) for the active labelling order")
    return len(margins)
