"""Completion-token log-probabilities without materialising [2B, T, V] fp32 logits (DESIGN.md §5).

Why chunked: with a 49k-152k vocabulary, full fp32 logits for a batch of long pairs dominate memory. Only the
completion positions matter for DPO-family losses, so the output head is applied to those hidden states only,
`chunk_tokens` at a time, with log_softmax in fp32 per chunk. What the model does to its logits after the head
(Gemma 2's soft-capping, logit scales) is repeated here (training.output_logits), or refused when unknown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from workbench.training.engine.data import Batch
from workbench.training.engine.output_logits import logit_transform


@dataclass
class SeqLogps:
    sum: Tensor  # [2B] summed completion-token log-probs (chosen rows then rejected rows)
    count: Tensor  # [2B] completion token counts
    wpo_logw: Tensor | None = None  # [2B] log WPO weight mean_t[log p_t - log sum_v p_v^2] (no grad)


def _at_least_fp32(dtype: torch.dtype) -> torch.dtype:
    """fp32 for half-precision logits (log_softmax over a big vocabulary needs it), fp64 stays fp64."""
    return torch.promote_types(dtype, torch.float32)


def _causal_lm(model: torch.nn.Module) -> torch.nn.Module:
    """The transformers *ForCausalLM under a PeftModel (LoRA layers are injected in place, so it runs them)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def hidden_states(model: torch.nn.Module, batch: Batch) -> Tensor:
    """Last hidden states [2B, T, H] from the model body (no output head applied)."""
    lm = _causal_lm(model)
    body = getattr(lm, lm.base_model_prefix, None)
    if body is None or body is lm:
        out = lm(input_ids=batch.input_ids, attention_mask=batch.attention_mask, output_hidden_states=True)
        return out.hidden_states[-1]
    out = body(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]


def _chunked_logps(h: Tensor, targets: Tensor, rows: Tensor, cols: Tensor, logits_of: Callable[[Tensor, Tensor], Tensor],
                   after_head: Callable[[Tensor], Tensor] | None, chunk_tokens: int,
                   with_lse2: bool = False) -> tuple[Tensor, Tensor | None]:
    """log p(targets[r, c] | h[r, c]) for the (rows, cols) positions, `chunk_tokens` at a time: the one loop of this
    module. logits_of(hidden [n, H], rows [n]) -> logits [n, V]; fp32 (or wider) log_softmax per chunk; with_lse2
    also returns log sum_v p_v^2 per position (WPO's weight; no grad)."""
    if chunk_tokens < 1:
        raise ValueError("chunk_tokens must be >= 1")
    token_lp, token_lse2 = [], []
    for s in range(0, rows.numel(), chunk_tokens):
        r, c = rows[s:s + chunk_tokens], cols[s:s + chunk_tokens]
        logits = logits_of(h[r, c], r)
        logits = logits.to(_at_least_fp32(logits.dtype))
        if after_head is not None:
            logits = after_head(logits)
        logp = F.log_softmax(logits, dim=-1)
        token_lp.append(logp.gather(-1, targets[r, c].unsqueeze(-1)).squeeze(-1))
        if with_lse2:
            with torch.no_grad():
                token_lse2.append(torch.logsumexp(2 * logp, dim=-1))
    lp = torch.cat(token_lp) if token_lp else h.new_zeros(0, dtype=_at_least_fp32(h.dtype))
    if not with_lse2:
        return lp, None
    return lp, (torch.cat(token_lse2) if token_lse2 else lp.new_zeros(0))


def token_logps(model: torch.nn.Module, batch: Batch, mask: Tensor, *, chunk_tokens: int = 1024) -> Tensor:
    """[B, T-1]: log p(token t+1 | tokens <= t) where mask[:, t+1] is True, 0 elsewhere. The output head runs on
    those positions only, `chunk_tokens` at a time, with the model's own logit processing (as sequence_logps)."""
    lm = _causal_lm(model)
    head = lm.get_output_embeddings()
    h = hidden_states(model, batch)[:, :-1]
    targets = batch.input_ids[:, 1:]
    rows, cols = mask[:, 1:].bool().nonzero(as_tuple=True)
    lp, _ = _chunked_logps(h, targets, rows, cols, lambda x, _r: head(x), logit_transform(lm.config), chunk_tokens)
    return torch.zeros(targets.shape, dtype=lp.dtype, device=h.device).index_put((rows, cols), lp)


HeadInput = Callable[[Tensor, Tensor], Tensor]  # (hidden [n, H], batch row of each [n]) -> head input [n, H]


def sequence_logps(model: torch.nn.Module, batch: Batch, *, chunk_tokens: int = 1024,
                   head: Callable[[Tensor], Tensor] | None = None, with_wpo: bool = False,
                   head_input: HeadInput | None = None, row_head: HeadInput | None = None,
                   share_prompt: bool = False) -> SeqLogps:
    """Sum of log p(completion token) per row; the head runs on completion positions only, in chunks.

    `head_input` rewrites the hidden states of each chunk before the head sees them, knowing which batch row each
    token belongs to: MAH-DPO adds the row's objective head delta there (workbench.training.preference.heads), so the body
    runs once per batch and every row still gets its own head. `row_head` (hidden [n, H], rows [n]) -> logits
    [n, V] replaces the head altogether (MAH-DPO's full per-objective heads, training.full_heads). `share_prompt`
    runs each pair's prompt once for both completions (workbench.training.engine.prefix_sharing); the rows' hidden
    states are the same either way."""
    if chunk_tokens < 1:
        raise ValueError("chunk_tokens must be >= 1")
    head = head or _causal_lm(model).get_output_embeddings()
    after_head = logit_transform(_causal_lm(model).config)  # soft-capping / logit scales (output_logits.py)
    from workbench.training.engine.prefix_sharing import shared_prompt_hidden_states, supports_prefix_sharing

    if share_prompt and supports_prefix_sharing(model):
        h = shared_prompt_hidden_states(model, batch)[:, :-1]
    else:
        h = hidden_states(model, batch)[:, :-1]  # position t predicts token t+1
    targets = batch.input_ids[:, 1:]
    mask = batch.completion_mask[:, 1:].bool()
    rows, cols = mask.nonzero(as_tuple=True)
    if row_head is not None:
        logits_of = row_head
    elif head_input is not None:
        logits_of = lambda x, r: head(head_input(x, r))  # noqa: E731
    else:
        logits_of = lambda x, _r: head(x)  # noqa: E731
    lp, lse2 = _chunked_logps(h, targets, rows, cols, logits_of, after_head, chunk_tokens, with_lse2=with_wpo)
    n_rows = batch.input_ids.shape[0]
    total = torch.zeros(n_rows, dtype=lp.dtype, device=lp.device).index_add(0, rows, lp)
    count = mask.sum(dim=1)
    wpo = None
    if lse2 is not None:
        with torch.no_grad():
            acc = torch.zeros(n_rows, dtype=lp.dtype, device=lp.device).index_add(0, rows, lp.detach() - lse2)
            wpo = acc / count.clamp(min=1)
    return SeqLogps(total, count, wpo)


def naive_sequence_logps(model: torch.nn.Module, batch: Batch) -> SeqLogps:
    """Straightforward reference: full fp32 logits, log_softmax, gather, masked sum (for tests only)."""
    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits[:, :-1]
    logits = logits.to(_at_least_fp32(logits.dtype))
    logp = F.log_softmax(logits, dim=-1).gather(-1, batch.input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
    mask = batch.completion_mask[:, 1:].to(logp.dtype)
    return SeqLogps((logp * mask).sum(dim=1), mask.sum(dim=1).long())
