"""Several MAH-DPO head mixtures from one trunk pass (issue #14).

Every mixture of a MAH-DPO checkpoint shares the trunk (base + LoRA); only the head differs (heads.py):
    logits_w(h) = W (h + Σ_k w_k B_k A_k h) = W h + (W B) · (w ⊙ A h)      A: [K·r, H], W B: [V, K·r]
So held-out log-probs for M mixtures need ONE trunk forward per pair, the base logits W h once per token, and per
mixture only a rank-K·r correction (V·K·r multiply-adds per token instead of V·H) and the log-softmax. When the
output head is not a plain linear layer (a LoRA on lm_head, say) the head is applied per mixture instead: still
one trunk pass. Generation batches the mixtures' rows together, each row with its own mixing weights
(`row_mixtures`, a forward pre-hook like heads.MixingHook but per row), and prefills each prompt once for all of
them; the KL of every mixture's answers comes from one policy and one reference pass per prompt batch in which
each prompt runs once for its M answers (prompt_fanout.py).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from workbench.training.engine.data import Batch, TokenizedData, collate
from workbench.training.preference.heads import ObjectiveHeads, output_head
from workbench.training.engine.logprobs import _causal_lm, hidden_states
from workbench.training.engine.output_logits import logit_transform
from workbench.training.engine.prefix_sharing import shared_prompt_hidden_states, supports_prefix_sharing
from workbench.training.evaluation.prompt_fanout import can_fan_out, fanout_logps, generate_fanout

Weights = dict[str, float]
Context = Callable[[], contextlib.AbstractContextManager]


def weight_matrix(heads: ObjectiveHeads, mixtures: Sequence[Weights]) -> Tensor:
    """[M, K] mixing weights in head order, each row normalised to sum 1 (all zeros = the base head), as
    steerable.Steerable.set_weights normalises one mixture."""
    rows = []
    for w in mixtures:
        if any(v < 0 for v in w.values()):
            raise ValueError("head weights must be >= 0")
        vec = heads.weight_vector(w).float()
        total = float(vec.sum())
        rows.append(vec / total if total > 0 else vec)
    return torch.stack(rows) if rows else torch.zeros(0, len(heads.objectives))


def _flat(heads: ObjectiveHeads, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """A as [K·r, H] (rows A_1..A_K) and B as [H, K·r] (columns B_1..B_K), like ObjectiveHeads.mixed_delta."""
    k, r, hid = len(heads.objectives), heads.rank, heads.hidden
    return heads.A.to(dtype).reshape(k * r, hid), heads.B.to(dtype).permute(1, 0, 2).reshape(hid, k * r)


@torch.no_grad()
def mixture_logps(model: torch.nn.Module, heads: ObjectiveHeads, batch: Batch, weights: Tensor, *,
                  base_head: Context, chunk_tokens: int = 1024, share_prompt: bool = False) -> Tensor:
    """[M, 2B] summed completion log-probs of every row under each of the M mixtures `weights` [M, K]; the trunk
    runs once (with `share_prompt`, each pair's prompt once: prefix_sharing.py). `base_head()` is a context in
    which the output head is the plain base head (the MixingHook off)."""
    head = output_head(model)
    after_head = logit_transform(_causal_lm(model).config)  # soft-capping / logit scales, as sequence_logps
    shared = share_prompt and supports_prefix_sharing(model)
    h = (shared_prompt_hidden_states if shared else hidden_states)(model, batch)[:, :-1]  # t predicts token t+1
    targets = batch.input_ids[:, 1:]
    rows, cols = batch.completion_mask[:, 1:].bool().nonzero(as_tuple=True)
    dtype = torch.promote_types(h.dtype, torch.float32)
    a, b = _flat(heads, h.dtype)
    w = weights.to(device=h.device, dtype=h.dtype).repeat_interleave(heads.rank, dim=1)  # [M, K·r]
    plain = type(head) is torch.nn.Linear
    wb = head.weight.to(h.dtype) @ b if plain else None  # [V, K·r]
    out = torch.zeros(weights.shape[0], batch.input_ids.shape[0], dtype=dtype, device=h.device)
    for s in range(0, rows.numel(), chunk_tokens):
        r, c = rows[s:s + chunk_tokens], cols[s:s + chunk_tokens]
        x = h[r, c]  # [n, H]
        z = x @ a.T  # [n, K·r]
        with base_head():
            base = head(x) if plain else None  # [n, V]
            for m in range(weights.shape[0]):
                logits = base + (z * w[m]) @ wb.T if plain else head(x + (z * w[m]) @ b.T)
                logits = logits.to(dtype)
                if after_head is not None:
                    logits = after_head(logits)
                logp = F.log_softmax(logits, dim=-1).gather(-1, targets[r, c].unsqueeze(-1)).squeeze(-1)
                out[m].index_add_(0, r, logp)
    return out


@torch.no_grad()
def heldout_rewards_mixtures(model: torch.nn.Module, heads: ObjectiveHeads, data: TokenizedData,
                             ref: Tensor | None, mixtures: Sequence[Weights], *, beta: float, batch_size: int,
                             chunk_tokens: int, pad_id: int, base_head: Context, reference: Context,
                             progress: Callable[[float], None] | None = None, share_prompt: bool = False
                             ) -> list[dict[str, float]]:
    """evaluate.heldout_rewards for each mixture (`<objective>/accuracy`, `<objective>/margin`), one trunk pass
    per eval batch for all of them. `ref` [N, 2] is the cached reference of `data` (None: computed per batch)."""
    weights = weight_matrix(heads, mixtures)
    device = next(model.parameters()).device
    idx_all = data.indices("eval")
    m_count = len(mixtures)
    correct = [dict[int, float]() for _ in range(m_count)]
    margin = [dict[int, float]() for _ in range(m_count)]
    count: dict[int, int] = {}
    for start in range(0, len(idx_all), batch_size):
        idx = idx_all[start:start + batch_size]
        batch = collate(data, idx, pad_id, device)
        lp = mixture_logps(model, heads, batch, weights, base_head=base_head, chunk_tokens=chunk_tokens,
                           share_prompt=share_prompt).double()
        if ref is None:
            from workbench.training.engine.logprobs import sequence_logps

            with reference():
                r = sequence_logps(model, batch, chunk_tokens=chunk_tokens, share_prompt=share_prompt).sum.double()
            rc, rr = r[:len(idx)], r[len(idx):]
        else:
            rc, rr = ref[idx, 0].double().to(device), ref[idx, 1].double().to(device)
        diff = beta * ((lp[:, :len(idx)] - rc) - (lp[:, len(idx):] - rr))  # [M, B]: r(chosen) − r(rejected)
        objectives = batch.objective.tolist()
        for k in objectives:
            count[k] = count.get(k, 0) + 1
        for m in range(m_count):
            for k, d in zip(objectives, diff[m].tolist()):
                correct[m][k] = correct[m].get(k, 0.0) + float(d > 0)
                margin[m][k] = margin[m].get(k, 0.0) + d
        if progress:
            progress(min(start + batch_size, len(idx_all)) / max(1, len(idx_all)))
    out = []
    for m in range(m_count):
        values: dict[str, float] = {}
        for k, n in sorted(count.items()):
            values[f"{data.objectives[k]}/accuracy"] = correct[m][k] / n
            values[f"{data.objectives[k]}/margin"] = margin[m][k] / n
        out.append(values)
    return out


@contextlib.contextmanager
def row_mixtures(model: torch.nn.Module, heads: ObjectiveHeads, row_weights: Tensor,
                 base_head: Context) -> Iterator[None]:
    """Inside the block every forward through the output head mixes row i's heads with `row_weights[i]` [R, K]
    (the head input's first dimension is the batch row, in prefill and in decoding alike)."""
    a, b = _flat(heads, torch.float32)
    w = row_weights.float().repeat_interleave(heads.rank, dim=1)  # [R, K·r]

    def pre_hook(_module: torch.nn.Module, args: tuple) -> tuple:
        h = args[0]  # [R, T, H]
        z = h @ a.to(h.dtype).T  # [R, T, K·r]
        return (h + (z * w.to(h.device, h.dtype)[:, None, :]) @ b.to(h.dtype).T, *args[1:])

    with base_head():
        handle = output_head(model).register_forward_pre_hook(pre_hook)
        try:
            yield
        finally:
            handle.remove()


def generate_mixtures(model: torch.nn.Module, tokenizer: Any, heads: ObjectiveHeads, prompts: Sequence[Any],
                      mixtures: Sequence[Weights], *, max_new_tokens: int, batch_size: int,
                      base_head: Context) -> list[Any]:
    """evaluate.Generations for each mixture: `batch_size` prompts × all M mixtures per `generate` call, each row
    with its own weights (greedy, so row i's answer does not depend on the other rows)."""
    from workbench.training.evaluation.evaluate import Generations, generate_greedy

    weights = weight_matrix(heads, mixtures)
    m_count = len(mixtures)
    if can_fan_out(model):
        return _generate_fanout(model, tokenizer, heads, prompts, weights, max_new_tokens=max_new_tokens,
                                batch_size=batch_size, base_head=base_head)
    outs = [Generations(list(prompts), [], [], [], []) for _ in range(m_count)]
    for start in range(0, len(prompts), batch_size):
        chunk = list(prompts[start:start + batch_size])
        rows = [p for _ in range(m_count) for p in chunk]  # mixture-major: rows of mixture m are contiguous
        row_w = weights.repeat_interleave(len(chunk), dim=0)
        with row_mixtures(model, heads, row_w, base_head):
            gen = generate_greedy(model, tokenizer, rows, max_new_tokens=max_new_tokens, batch_size=len(rows))
        for m in range(m_count):
            part = slice(m * len(chunk), (m + 1) * len(chunk))
            outs[m].prompt_ids += gen.prompt_ids[part]
            outs[m].response_ids += gen.response_ids[part]
            outs[m].texts += gen.texts[part]
            outs[m].lengths += gen.lengths[part]
    return outs


def _generate_fanout(model: torch.nn.Module, tokenizer: Any, heads: ObjectiveHeads, prompts: Sequence[Any],
                     weights: Tensor, *, max_new_tokens: int, batch_size: int, base_head: Context) -> list[Any]:
    """generate_mixtures with each prompt prefilled once for all M mixtures (prompt_fanout.generate_fanout)."""
    from workbench.training.evaluation.evaluate import (Generations, _eos_ids, _left_padded, add_answer, encode_prompt,
                                             greedy_kwargs)

    device = next(model.parameters()).device
    eos = _eos_ids(model, tokenizer)
    m_count = weights.shape[0]
    prompt_ids = [encode_prompt(tokenizer, p) for p in prompts]
    outs = [Generations(list(prompts), list(prompt_ids), [], [], []) for _ in range(m_count)]
    for start in range(0, len(prompts), batch_size):
        ids, mask = _left_padded(prompt_ids[start:start + batch_size], tokenizer.pad_token_id, device)
        row_w = weights.repeat(ids.shape[0], 1)  # prompt-major: row i·M + m has mixture m
        with row_mixtures(model, heads, row_w, base_head):
            seqs = generate_fanout(model, ids, mask, m_count, **greedy_kwargs(tokenizer, eos, max_new_tokens))
        for row, new in enumerate(seqs[:, ids.shape[1]:].tolist()):
            add_answer(outs[row % m_count], new, eos, tokenizer)
    return outs


@torch.no_grad()
def mixtures_kl(model: torch.nn.Module, heads: ObjectiveHeads, gens: Sequence[Any], weights: Tensor, *,
                base_head: Context, reference: Context, batch_size: int, chunk_tokens: int) -> list[float]:
    """evaluate.generation_kl of each mixture's own answers (gens[m] by mixture m), all mixtures in one policy and
    one reference pass per prompt batch, each prompt run once for its M answers (prompt_fanout.fanout_logps)."""
    m_count = len(gens)
    sums, counts = [0.0] * m_count, [0] * m_count
    first = gens[0]
    for start in range(0, len(first.prompts), batch_size):
        idx = range(start, min(len(first.prompts), start + batch_size))
        prompt_ids = [first.prompt_ids[i] for i in idx]
        answers = [[gens[m].response_ids[i] for m in range(m_count)] for i in idx]
        with base_head():
            policy = fanout_logps(model, prompt_ids, answers, chunk_tokens=chunk_tokens, heads=heads,
                                  weights=weights)
        with reference():
            ref = fanout_logps(model, prompt_ids, answers, chunk_tokens=chunk_tokens)
        for g, group in enumerate(answers):
            for m, answer in enumerate(group):
                if answer:
                    sums[m] += float(policy[g, m] - ref[g, m])
                    counts[m] += 1
    return [s / n if n else math.nan for s, n in zip(sums, counts)]


def evaluate_mixtures(model: torch.nn.Module, tokenizer: Any, heads: ObjectiveHeads, data: TokenizedData,
                      ref: Tensor | None, prompts: Sequence[Any], cfg: Any, scorers: dict[str, Any],
                      mixtures: Sequence[Weights], *, mix: Callable[[Weights], None], base_head: Context,
                      reference: Context, progress: Callable[[str, float], None] | None = None
                      ) -> list[dict[str, float]]:
    """evaluate.evaluate_policy's values for every mixture: held-out rewards from one trunk pass, generations of
    all mixtures batched together; only the KL of each mixture's own answers is a per-mixture pass. With
    cfg.eval_guide each mixture's answers come from reward-guided decoding under that mixture, as evaluate_policy's.
    `mix(w)` sets the model's mixture (left at the last one)."""
    from workbench.training.evaluation.evaluate import generation_kl, score_generations

    note = progress or (lambda _message, _fraction: None)
    was_training = model.training
    model.eval()
    try:
        note("held-out pairs", 0.0)
        values = heldout_rewards_mixtures(model, heads, data, ref, mixtures, beta=cfg.beta,
                                          batch_size=cfg.batch_size, chunk_tokens=cfg.logprob_chunk,
                                          pad_id=tokenizer.pad_token_id, base_head=base_head, reference=reference,
                                          progress=lambda f: note("held-out pairs", 0.3 * f),
                                          share_prompt=cfg.prefix_sharing)
        if prompts:
            note(f"generating for {len(prompts)} prompts × {len(mixtures)} mixtures", 0.3)
            if cfg.eval_guide:  # reward-guided answers are searched one mixture at a time (the batch is greedy)
                from workbench.inference.guided_eval import generate_guided

                gens = []
                for w in mixtures:
                    mix(w)
                    gens.append(generate_guided(model, tokenizer, prompts, cfg))
                fan_out = False
            else:
                gens = generate_mixtures(model, tokenizer, heads, prompts, mixtures,
                                         max_new_tokens=cfg.eval_max_new_tokens, batch_size=cfg.batch_size,
                                         base_head=base_head)
                fan_out = can_fan_out(model)
            if fan_out:
                note("KL of the generations", 0.7)
                kls = mixtures_kl(model, heads, gens, weight_matrix(heads, mixtures), base_head=base_head,
                                  reference=reference, batch_size=cfg.batch_size, chunk_tokens=cfg.logprob_chunk)
            for m, (w, gen) in enumerate(zip(mixtures, gens)):
                note("scoring generations", 0.8 + 0.2 * m / len(mixtures))
                values[m].update(score_generations(gen, scorers, cfg))
                mix(w)
                values[m]["kl"] = kls[m] if fan_out else generation_kl(
                    model, gen, reference, pad_id=tokenizer.pad_token_id, batch_size=cfg.batch_size,
                    chunk_tokens=cfg.logprob_chunk)
                values[m]["length"] = sum(gen.lengths) / len(gen.lengths)
        note("done", 1.0)
        return values
    finally:
        model.train(was_training)
