"""One prompt, several continuations: the prompt's trunk pass paid once for all K MAH-DPO mixtures (issue #14).

Mixtures differ in the output head only, so the trunk (base + LoRA) sees the same prompt tokens whatever the
mixture. Evaluating K mixtures on the same prompts used to run each prompt K times, twice over:
- generation: the prefill of K rows per prompt. `generate_fanout` prefills each prompt once (the body, no head),
  copies its KV cache to the K rows (`Cache.batch_repeat_interleave`) and lets `generate` continue from it, each row
  with its own head mixture (mixtures.row_mixtures). On CPU the prefill was ~40 % of the K-row generation.
- the KL of each mixture's answers: policy and reference log-probs over prompt+answer, K times. `fanout_logps`
  packs a prompt and its K answers into ONE row, [prompt | answer_1 | … | answer_K], with an attention mask in
  which answer k sees the prompt and its own earlier tokens only, at the positions it has in the plain row
  (prefix_sharing.py does this for a pair's two responses); every answer token then gets its own mixture's head.
Both give the plain path's numbers up to float rounding (tests: to 1e-5 and the same greedy tokens).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from workbench.training.preference.heads import ObjectiveHeads, output_head
from workbench.training.engine.logprobs import _causal_lm
from workbench.training.engine.output_logits import logit_transform
from workbench.training.engine.prefix_sharing import _body, body_hidden_states, supports_prefix_sharing

Context = Callable[[], contextlib.AbstractContextManager]


def can_fan_out(model: torch.nn.Module) -> bool:
    """A decoder body whose attention takes a custom 4D mask (sdpa / eager), as prefix sharing needs."""
    return supports_prefix_sharing(model)


@torch.no_grad()
def generate_fanout(model: torch.nn.Module, ids: Tensor, mask: Tensor, repeats: int, **generate_kwargs: Any) -> Tensor:
    """`model.generate` for every left-padded prompt row of `ids` [P, W] repeated `repeats` times (rows prompt-major:
    row i·repeats + m), the prompt prefilled once per prompt. Returns the [P·repeats, W + new] sequences."""
    rows, row_mask = ids.repeat_interleave(repeats, 0), mask.repeat_interleave(repeats, 0)
    if ids.shape[1] < 2:  # nothing to prefill before the last prompt token
        return model.generate(input_ids=rows, attention_mask=row_mask, **generate_kwargs)
    pos = mask.long().cumsum(-1) - 1
    pos = pos.masked_fill(mask == 0, 1)  # as generate's position ids for left padding
    out = _body(model)(input_ids=ids[:, :-1], attention_mask=mask[:, :-1], position_ids=pos[:, :-1], use_cache=True)
    cache = out.cache if getattr(out, "cache", None) is not None else out.past_key_values
    cache.batch_repeat_interleave(repeats)
    # transformers 5.x calls the argument `cache`, earlier versions `past_key_values`
    name = "cache" if "cache" in inspect.signature(type(_causal_lm(model)).forward).parameters else "past_key_values"
    return model.generate(input_ids=rows, attention_mask=row_mask, **{name: cache}, **generate_kwargs)


def pack_fanout(prompt_ids: Sequence[Sequence[int]], answers: Sequence[Sequence[Sequence[int]]], device: torch.device
                ) -> tuple[Tensor, Tensor, Tensor, list[tuple[int, int, int, int, int]]]:
    """(ids [G, L], position ids [G, L], attention allowed [G, 1, L, L], tokens) for G prompts, each with its K
    answers; `tokens` lists every answer token as (row g, column predicting it, target id, answer k)."""
    lengths = [len(p) + sum(len(a) for a in group) for p, group in zip(prompt_ids, answers)]
    width = max(lengths)
    g_count = len(prompt_ids)
    ids = torch.zeros(g_count, width, dtype=torch.long)
    pos = torch.zeros(g_count, width, dtype=torch.long)
    seg = torch.full((g_count, width), -1, dtype=torch.long)  # -1 padding, 0 prompt, k + 1 answer k
    tokens = []
    for g, (prompt, group) in enumerate(zip(prompt_ids, answers)):
        p = len(prompt)
        ids[g, :p] = torch.tensor(list(prompt), dtype=torch.long)
        pos[g, :p] = torch.arange(p)
        seg[g, :p] = 0
        start = p
        for k, answer in enumerate(group):
            n = len(answer)
            ids[g, start:start + n] = torch.tensor(list(answer), dtype=torch.long)
            pos[g, start:start + n] = torch.arange(p, p + n)
            seg[g, start:start + n] = k + 1
            for j, target in enumerate(answer):  # token j is predicted at the prompt's end or at answer token j-1
                tokens.append((g, p - 1 if j == 0 else start + j - 1, int(target), k))
            start += n
    col = torch.arange(width)
    allowed = (col[None, :, None] >= col[None, None, :]) & (seg[:, None, :] >= 0) \
        & ((seg[:, None, :] == 0) | (seg[:, None, :] == seg[:, :, None]))
    allowed |= torch.eye(width, dtype=torch.bool)[None]  # padding queries see themselves: no NaN
    return ids.to(device), pos.to(device), allowed[:, None].to(device), tokens


@torch.no_grad()
def fanout_logps(model: torch.nn.Module, prompt_ids: Sequence[Sequence[int]],
                 answers: Sequence[Sequence[Sequence[int]]], *, chunk_tokens: int,
                 heads: ObjectiveHeads | None = None, weights: Tensor | None = None) -> Tensor:
    """[G, K] summed log-probs of answer k to prompt g (the prompt's trunk pass shared by its K answers). With
    `heads` and `weights` [K, K_obj] (mixtures.weight_matrix rows), answer k is scored with mixture k's head;
    without, with the output head as it is (the reference: call inside its context)."""
    device = next(model.parameters()).device
    ids, pos, allowed, tokens = pack_fanout(prompt_ids, answers, device)
    k_count = max((len(a) for a in answers), default=0)
    out = torch.zeros(len(prompt_ids), k_count, dtype=torch.float64)
    if not tokens:
        return out
    h = body_hidden_states(model, ids, pos, allowed)  # [G, L, H]
    head = output_head(model)
    after_head = logit_transform(_causal_lm(model).config)
    rows, cols, targets, ks = (torch.tensor(c, device=device) for c in zip(*tokens))
    if heads is not None and weights is not None:
        from workbench.training.evaluation.mixtures import _flat

        a, b = _flat(heads, h.dtype)
        w = weights.to(device=device, dtype=h.dtype).repeat_interleave(heads.rank, dim=1)  # [K, K_obj·r]
    dtype = torch.promote_types(h.dtype, torch.float32)
    flat = torch.zeros(len(prompt_ids) * k_count, dtype=dtype, device=device)
    for s in range(0, rows.numel(), chunk_tokens):
        part = slice(s, s + chunk_tokens)
        x = h[rows[part], cols[part]]  # [n, H]
        if heads is not None and weights is not None:
            x = x + ((x @ a.T) * w[ks[part]]) @ b.T  # answer k's mixture of head deltas (heads.MixingHook)
        logits = head(x).to(dtype)
        if after_head is not None:
            logits = after_head(logits)
        logp = F.log_softmax(logits, dim=-1).gather(-1, targets[part].unsqueeze(-1)).squeeze(-1)
        flat.index_add_(0, rows[part] * k_count + ks[part], logp)
    return flat.view(len(prompt_ids), k_count).double().cpu()
