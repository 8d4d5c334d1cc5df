"""PRM data: run_dir/steps.jsonl (TRL stepwise supervision) -> token rows with one scored position per step.

Tokenisation follows TRL's PRMTrainer.tokenize_row (peers-prm.md §1) so a checkpoint scores text exactly as it
was trained: the prompt and every step are tokenised separately without special tokens; the separator's ids are
appended to EVERY step (the last included); a step's label sits on the LAST token of its step+separator chunk;
a BOS is prepended when the tokenizer has one. One convention TRL leaves open is fixed here and stored in the
checkpoint: `separator_after_prompt` (True: prompt + separator + step 1 + separator ..., as TRL's own inference
example does). Truncation cuts from the right (the whole row to `max_length`); a step whose position falls
outside loses its label, and the count is reported.

steps.jsonl rows: {"prompt": str, "completions": [str, ...], "labels": [bool | null, ...]} (+ optional "split":
"train" | "eval"). A null label is an unlabelled step: it is scored but never trained or evaluated on. Numbers
are binarised (>= 0.5 is good), not truncated like TRL's int() (which turns 0.9 into 0).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from workbench.core.errors import RunError

IGNORE = -100  # positions without a label (cross-entropy ignore_index, TRL's convention)


@dataclass(frozen=True)
class StepTokens:
    """One tokenised solution: its ids, the position of each (kept) step's scoring token, and the 0/1 label of
    each kept step (IGNORE = unlabelled). Steps cut off by truncation are absent from positions/labels."""

    input_ids: list[int]
    positions: list[int]
    labels: list[int]
    n_steps: int  # steps before truncation
    start: int = 0  # index of the first step token (after BOS, prompt and the prompt's separator)


def tokenize_steps(tokenizer: Any, prompt: str, steps: list[str], labels: list[bool | None] | None = None, *,
                   separator: str = "\n", separator_after_prompt: bool = True,
                   max_length: int | None = None) -> StepTokens:
    """TRL's tokenize_row (module docstring). `labels` None = score only (every label IGNORE)."""
    def ids(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []

    sep = ids(separator)
    if not sep:
        raise RunError(f"the step separator {separator!r} has no tokens; choose a visible separator such as '\\n'")
    input_ids = ([tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []) + ids(prompt)
    if separator_after_prompt:
        input_ids += sep
    start = len(input_ids)
    positions: list[int] = []
    for step in steps:
        input_ids += ids(step) + sep
        positions.append(len(input_ids) - 1)
    targets = [IGNORE if labels is None or labels[i] is None else int(bool(labels[i])) for i in range(len(steps))]
    if max_length is not None and len(input_ids) > max_length:
        input_ids = input_ids[:max_length]
        keep = [i for i, p in enumerate(positions) if p < max_length]
        positions, targets = [positions[i] for i in keep], [targets[i] for i in keep]
    return StepTokens(input_ids, positions, targets, len(steps), min(start, len(input_ids)))


def binarise(label: Any) -> bool | None:
    """A steps.jsonl label as a bool (None = unlabelled); numbers >= 0.5 are good (PRM800K +1 good, 0/-1 not)."""
    if label is None or isinstance(label, bool):
        return label
    if isinstance(label, (int, float)):
        return float(label) >= 0.5
    raise RunError(f"a step label must be true, false, null or a number, not {label!r}")


def read_steps_file(path: Path) -> list[dict[str, Any]]:
    """Rows of steps.jsonl, checked; errors name the line and say what to fix."""
    if not path.is_file():
        raise RunError(f"{path.name} is missing from the run folder: a PRM run needs step-labelled solutions "
                       "(label steps in the Label panel's step mode or import a step dataset)")
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            steps, labels = row["completions"], row.get("labels") or [None] * len(row["completions"])
            if not isinstance(row["prompt"], str) or not isinstance(steps, list) or len(steps) != len(labels):
                raise ValueError("completions and labels must be lists of the same length")
        except (ValueError, KeyError, TypeError) as exc:
            raise RunError(f"{path.name} line {n}: not a stepwise row ({type(exc).__name__}: {exc}); each line needs "
                           "prompt, completions (list of steps) and labels (one per step)") from None
        rows.append({"prompt": row["prompt"], "completions": [str(s) for s in steps],
                     "labels": [binarise(x) for x in labels], "split": row.get("split")})
    return rows


def split_of(row: dict[str, Any], index: int, seed: int, eval_fraction: float) -> str:
    """The row's own "split" when it has one, else a stable hash of (seed, index, prompt)."""
    if row.get("split") in ("train", "eval"):
        return row["split"]
    digest = hashlib.sha1(f"{seed}:{index}:{row['prompt']}".encode()).digest()
    return "eval" if int.from_bytes(digest[:8], "big") / 2.0**64 < eval_fraction else "train"


@dataclass
class PRMData:
    """Tokenised rows; `objective` is all zeros so the policy trainer's batch samplers treat it as one objective."""

    rows: list[StepTokens] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    objective: list[int] = field(default_factory=list)
    truncated_steps: int = 0

    def __len__(self) -> int:
        return len(self.rows)

    def length(self, i: int) -> int:
        return len(self.rows[i].input_ids)

    def indices(self, split: str) -> list[int]:
        return [i for i, s in enumerate(self.split) if s == split]


def build_data(rows: list[dict[str, Any]], tokenizer: Any, *, separator: str, separator_after_prompt: bool,
               max_length: int, seed: int, eval_fraction: float) -> PRMData:
    data = PRMData()
    for i, row in enumerate(rows):
        tok = tokenize_steps(tokenizer, row["prompt"], row["completions"], row["labels"], separator=separator,
                             separator_after_prompt=separator_after_prompt, max_length=max_length)
        data.truncated_steps += sum(x is not None for x in row["labels"][len(tok.positions):])
        if not any(t != IGNORE for t in tok.labels):
            continue  # nothing to learn or measure
        data.rows.append(tok)
        data.split.append(split_of(row, i, seed, eval_fraction))
        data.objective.append(0)
    return data


@dataclass
class StepBatch:
    input_ids: torch.Tensor  # [B, T] right-padded
    attention_mask: torch.Tensor  # [B, T]
    labels: torch.Tensor  # [B, T]: 0/1 at labelled step positions, IGNORE elsewhere
    step_mask: torch.Tensor  # [B, T] bool: every (kept) step position, labelled or not
    index: torch.Tensor  # [B] row indices
    response_mask: torch.Tensor  # [B, T] bool: the steps' tokens (separators included), not BOS or prompt


def collate_steps(rows: list[StepTokens], pad_id: int, device: torch.device | str = "cpu",
                  index: list[int] | None = None) -> StepBatch:
    width = max(len(r.input_ids) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    steps = torch.zeros((len(rows), width), dtype=torch.bool)
    response = torch.zeros((len(rows), width), dtype=torch.bool)
    for b, r in enumerate(rows):
        ids[b, :len(r.input_ids)] = torch.tensor(r.input_ids, dtype=torch.long)
        attn[b, :len(r.input_ids)] = 1
        response[b, r.start:len(r.input_ids)] = True
        if r.positions:
            labels[b, r.positions] = torch.tensor(r.labels, dtype=torch.long)
            steps[b, r.positions] = True
    idx = torch.tensor(index if index is not None else list(range(len(rows))), dtype=torch.long)
    return StepBatch(ids.to(device), attn.to(device), labels.to(device), steps.to(device), idx, response.to(device))
