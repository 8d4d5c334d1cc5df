"""Prefix sharing: a pair's chosen and rejected completions attend to ONE copy of their common prompt (issue #14).

The plain batch runs the prompt twice (rows prompt+chosen and prompt+rejected). Packed, a pair is one row
    [prompt | chosen | rejected]     positions 0..p-1 | p..p+c-1 | p..p+r-1
with an attention mask in which a rejected token sees the prompt and the rejected tokens before it, never the
chosen ones, so every token sees exactly the context it has in the plain row, at the same position (RoPE depends
on position ids only); transformers passes a 4D mask through as it is (masking_utils: "already 4D"). The
prompt's forward and backward are then paid once per pair instead of twice: the saving is the prompt's share of
the pair's tokens (published DPO speed-ups 1.1-1.5x, more with long prompts; SmolLM2's chat template puts a
system prompt in every prompt).

`shared_prompt_hidden_states` returns the hidden states laid out as the plain [2B, T, H] batch would have them, so
the log-prob code (chunked head over completion positions, MAH-DPO heads) is unchanged. The mask is boolean
for SDPA and additive (0 / dtype min) for eager attention; the test compares against the plain path.
"""

from __future__ import annotations

import torch
from torch import Tensor

from workbench.training.engine.data import Batch


def _body(model: torch.nn.Module) -> torch.nn.Module:
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = getattr(lm, lm.base_model_prefix, None)
    if body is None or body is lm:
        raise ValueError(f"prefix sharing needs a decoder body under {type(lm).__name__}")
    return body


def pack_pairs(batch: Batch) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(ids [B, L], position ids [B, L], attention allowed [B, 1, L, L] (bool), row of each plain row [2B],
    packed column of every plain (row, column) [2B, T]) for a plain batch of B chosen then B rejected rows."""
    ids, attn, comp = batch.input_ids, batch.attention_mask, batch.completion_mask
    b2, t = ids.shape
    b = b2 // 2
    device = ids.device
    lens = attn.sum(dim=1)  # [2B] real tokens per plain row
    prompt = comp[:b].argmax(dim=1)  # [B] first completion column = prompt length (right padding)
    lc, lr = lens[:b], lens[b:]
    total = lc + lr - prompt  # packed length per pair
    width = int(total.max())
    col = torch.arange(width, device=device)
    in_rej = col[None, :] >= lc[:, None]  # [B, L]
    # source column in the rejected plain row for packed columns in the rejected segment
    rej_src = (col[None, :] - lc[:, None] + prompt[:, None]).clamp(0, t - 1)
    chosen_ids = ids[:b].gather(1, col[None, :].clamp(max=t - 1).expand(b, width))
    rejected_ids = ids[b:].gather(1, rej_src)
    valid = col[None, :] < total[:, None]
    packed = torch.where(in_rej, rejected_ids, chosen_ids).masked_fill(~valid, 0)
    pos = torch.where(in_rej, rej_src, col[None, :].expand(b, width)).masked_fill(~valid, 0)
    # segment: 0 prompt, 1 chosen, 2 rejected; query q may see key k when k <= q, k real, and k is prompt or in
    # q's own segment
    seg = torch.where(col[None, :] < prompt[:, None], 0, torch.where(in_rej, 2, 1))  # [B, L]
    allowed = (col[None, :, None] >= col[None, None, :]) & valid[:, None, :] \
        & ((seg[:, None, :] == 0) | (seg[:, None, :] == seg[:, :, None]))
    allowed |= torch.eye(width, dtype=torch.bool, device=device)[None]  # padding queries see themselves: no NaN
    # where each plain (row, column) lives in the packed batch
    plain_col = torch.arange(t, device=device)[None, :]
    chosen_map = plain_col.expand(b, t).clamp(max=width - 1)
    rejected_map = torch.where(plain_col < prompt[:, None], plain_col, lc[:, None] + plain_col - prompt[:, None])
    col_map = torch.cat([chosen_map, rejected_map.clamp(0, width - 1)])  # [2B, T]
    row_map = torch.arange(b, device=device).repeat(2)  # [2B]
    return packed, pos, allowed[:, None], row_map, col_map


SUPPORTED_ATTENTION = ("sdpa", "eager")  # flash-attention kernels ignore a custom 4D mask


def supports_prefix_sharing(model: torch.nn.Module) -> bool:
    """True when the model has a decoder body whose attention takes a custom 4D mask."""
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = getattr(lm, getattr(lm, "base_model_prefix", ""), None)
    config = getattr(body, "config", None)
    return body is not None and body is not lm and \
        getattr(config, "_attn_implementation", None) in SUPPORTED_ATTENTION


def shared_prompt_hidden_states(model: torch.nn.Module, batch: Batch) -> Tensor:
    """Last hidden states [2B, T, H] of the plain batch's rows, computed with each prompt run once (module doc).
    Columns outside a row's real tokens hold some other position's state: callers mask them, as with padding."""
    packed, pos, allowed, row_map, col_map = pack_pairs(batch)
    h = body_hidden_states(model, packed, pos, allowed)  # [B, L, H]
    return h[row_map[:, None], col_map]


def body_hidden_states(model: torch.nn.Module, ids: Tensor, pos: Tensor, allowed: Tensor) -> Tensor:
    """Last hidden states [B, L, H] of the decoder body for packed rows `ids` with position ids `pos` and the
    boolean attention pattern `allowed` [B, 1, L, L] (True = attend)."""
    body = _body(model)
    mask: Tensor = allowed  # SDPA and flex take a boolean mask (True = attend) in any compute dtype
    if getattr(body.config, "_attn_implementation", "sdpa") == "eager":  # eager adds the mask to the scores
        device_type = ids.device.type
        dtype = (torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(device_type)
                 else next(body.parameters()).dtype)
        mask = torch.zeros(allowed.shape, dtype=dtype, device=ids.device).masked_fill(~allowed,
                                                                                       torch.finfo(dtype).min)
    out = body(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=False)
    return out.last_hidden_state if hasattr(out, "last_hidden_state") else out[0]
