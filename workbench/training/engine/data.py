"""Run data -> token ids -> padded batches (DESIGN.md §3, §5).

The prompt/completion boundary is the longest common token prefix of tokens(prompt) with tokens(prompt+chosen)
and tokens(prompt+rejected): BPE merges across the boundary would otherwise shift a token from the response
into the prompt (or back) and the log-probs would score the wrong tokens.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from workbench.core.errors import InputError
from workbench.core.prompt_meta import prompt_text

_KEYS = ("pair_id", "objective", "prompt", "chosen", "rejected")


@dataclass(frozen=True)
class PairRow:
    pair_id: int
    objective: str
    prompt: Any  # str or list of chat messages
    chosen: Any
    rejected: Any
    strength: int = 2
    split: str = "train"


@dataclass
class TokenizedData:
    """Per pair: prompt ids and the two completions' ids; `objective` indexes into `objectives`."""

    prompt_ids: list[list[int]] = field(default_factory=list)
    chosen_ids: list[list[int]] = field(default_factory=list)
    rejected_ids: list[list[int]] = field(default_factory=list)
    objective: list[int] = field(default_factory=list)
    pair_id: list[int] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    dropped_long_prompt: int = 0
    truncated: int = 0

    def __len__(self) -> int:
        return len(self.prompt_ids)

    def length(self, i: int) -> int:
        """Padded row length of pair i (prompt + longer completion)."""
        return len(self.prompt_ids[i]) + max(len(self.chosen_ids[i]), len(self.rejected_ids[i]))

    def indices(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.split) if s == split]


@dataclass
class Batch:
    input_ids: torch.Tensor  # [2B, T]: B chosen rows, then B rejected rows
    attention_mask: torch.Tensor  # [2B, T]
    completion_mask: torch.Tensor  # [2B, T]: 1 where the token at that position is a completion token
    objective: torch.Tensor  # [B]
    index: torch.Tensor  # [B] positions in TokenizedData


def read_run_data(path: str | Path) -> list[PairRow]:
    """Read run_dir/data.jsonl (store_api.md); a bad line raises InputError naming file and line."""
    rows: list[PairRow] = []
    p = Path(path)
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"not valid JSON ({exc.msg})", path=str(p), line=n) from None
        missing = [k for k in _KEYS if k not in d]
        if missing:
            raise InputError(f"missing field(s): {', '.join(missing)}", path=str(p), line=n)
        rows.append(PairRow(int(d["pair_id"]), str(d["objective"]), d["prompt"], d["chosen"], d["rejected"],
                            int(d.get("strength", 2)), str(d.get("split", "train"))))
    return rows


def _messages(x: Any, role: str) -> list[dict]:
    return [{"role": role, "content": x}] if isinstance(x, str) else list(x)


def _as_text(x: Any) -> str:
    return prompt_text(x)


def _encode_pair(row: PairRow, tok: Any) -> tuple[list[int], list[int], list[int]]:
    """Full token ids of (prompt, prompt+chosen, prompt+rejected)."""
    if getattr(tok, "chat_template", None):
        prompt_msgs = _messages(row.prompt, "user")

        def render(msgs: list[dict], gen: bool) -> list[int]:
            text = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=gen)
            return list(tok(text, add_special_tokens=False)["input_ids"])

        return (render(prompt_msgs, True),
                render(prompt_msgs + _messages(row.chosen, "assistant"), False),
                render(prompt_msgs + _messages(row.rejected, "assistant"), False))
    eos = [tok.eos_token_id] if tok.eos_token_id is not None else []
    p = _as_text(row.prompt)

    def enc(text: str) -> list[int]:
        return list(tok(text)["input_ids"])

    return enc(p), enc(p + _as_text(row.chosen)) + eos, enc(p + _as_text(row.rejected)) + eos


def _common_prefix(*seqs: list[int]) -> int:
    n = min(len(s) for s in seqs)
    for i in range(n):
        if any(s[i] != seqs[0][i] for s in seqs[1:]):
            return i
    return n


def tokenize_pairs(rows: list[PairRow], tokenizer: Any, *, max_length: int, max_prompt_length: int) -> TokenizedData:
    """Tokenize pairs; drop (and count) over-long prompts, truncate (and count) over-long responses."""
    data = TokenizedData(objectives=sorted({r.objective for r in rows}))
    obj_index = {o: i for i, o in enumerate(data.objectives)}
    for row in rows:
        prompt, full_c, full_r = _encode_pair(row, tokenizer)
        cut = _common_prefix(prompt, full_c, full_r)
        if cut > max_prompt_length:
            data.dropped_long_prompt += 1
            continue
        room = max_length - cut
        chosen, rejected = full_c[cut:], full_r[cut:]
        if len(chosen) > room or len(rejected) > room:
            data.truncated += 1
            chosen, rejected = chosen[:room], rejected[:room]
        if not chosen or not rejected:
            data.dropped_long_prompt += 1
            continue
        data.prompt_ids.append(full_c[:cut])
        data.chosen_ids.append(chosen)
        data.rejected_ids.append(rejected)
        data.objective.append(obj_index[row.objective])
        data.pair_id.append(row.pair_id)
        data.split.append(row.split)
    return data


def length_grouped_batches(data: TokenizedData, indices: list[int], batch_size: int, *, seed: int,
                           epoch: int) -> list[list[int]]:
    """Shuffle, sort by length inside mega-chunks of ~50 batches, then shuffle batch order.

    Pairs of similar length share a batch (little padding) while the order stays random per (seed, epoch).
    """
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(indices)
    rng.shuffle(order)
    mega = batch_size * 50
    batches: list[list[int]] = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start:start + mega], key=data.length, reverse=True)
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def collate(data: TokenizedData, indices: list[int], pad_id: int, device: torch.device | str = "cpu") -> Batch:
    """Right-padded [2B, T] tensors: chosen rows then rejected rows."""
    seqs = [data.prompt_ids[i] + data.chosen_ids[i] for i in indices]
    seqs += [data.prompt_ids[i] + data.rejected_ids[i] for i in indices]
    starts = [len(data.prompt_ids[i]) for i in indices] * 2
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(seqs), width), dtype=torch.long)
    comp = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, (s, st) in enumerate(zip(seqs, starts)):
        ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
        attn[r, : len(s)] = 1
        comp[r, st: len(s)] = 1
    return Batch(ids.to(device), attn.to(device), comp.to(device),
                 torch.tensor([data.objective[i] for i in indices], dtype=torch.long, device=device),
                 torch.tensor(indices, dtype=torch.long, device=device))


def padding_fraction(data: TokenizedData, batches: list[list[int]]) -> float:
    """Share of batch cells that are padding (why length grouping matters)."""
    total = real = 0
    for b in batches:
        rows = [len(data.prompt_ids[i]) + len(c[i]) for c in (data.chosen_ids, data.rejected_ids) for i in b]
        total += max(rows) * len(rows)
        real += sum(rows)
    return 1 - real / total if total else 0.0
