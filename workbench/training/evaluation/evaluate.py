"""The reward vector of a policy: one number per objective, plus its distance from the reference (mo_api.md).

A point on a trade-off plot is a checkpoint, or a mixture (MAH-DPO head weights / soup weights) of one. For it:
- `<objective>/accuracy`, `<objective>/margin`: held-out implicit-reward accuracy and mean margin on the
  objective's eval-split pairs, with the DPO implicit reward r = β·(log π(y|x) − log π_ref(y|x)) (Rafailov et al.
  2023, eq. 5); accuracy = mean 1[r(chosen) > r(rejected)], margin = mean r(chosen) − r(rejected) (TRL's
  rewards/accuracies and rewards/margins).
- `<objective>/score`: the mean of the objective's scorer (cfg.eval_scorers) over greedy generations for a fixed
  set of held-out prompts. Greedy decoding makes the point reproducible: the same weights give the same number
  (with cfg.eval_guide: reward-guided decoding, sampled with seeds cfg.seed + i, reproducible too).
- `<objective>/reward`: the mean reward of those generations under a trained vector reward model
  (cfg.eval_reward_model, a `reward_model` run's checkpoint), one per objective it was trained on.
- `kl`: mean over those generations of log π(y|x) − log π_ref(y|x) (sequence level). y comes from greedy decoding,
  not sampling, so this is the log-ratio on the evaluation answers rather than an unbiased KL(π‖π_ref) estimate;
  it is still the number that grows as the policy drifts from the reference.
- `length`: mean response tokens (eos not counted).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from workbench.core.run_config import RunConfig
from workbench.core.scorers import Scorer
from workbench.training.engine.data import Batch, PairRow, TokenizedData, _as_text, _messages, collate
from workbench.training.engine.logprobs import sequence_logps

Progress = Callable[[str, float], None]  # progress(message, fraction of this evaluation done)
ReferenceContext = Callable[[], contextlib.AbstractContextManager]


@dataclass
class Generations:
    """Greedy answers to the evaluation prompts: token ids (eos included when produced) and decoded text."""

    prompts: list[Any]
    prompt_ids: list[list[int]]
    response_ids: list[list[int]]
    texts: list[str]
    lengths: list[int]  # response tokens without the final eos


def evaluation_prompts(rows: Sequence[PairRow], count: int) -> list[Any]:
    """The fixed prompt set: the first `count` distinct prompts of held-out (eval-split) pairs, by pair id.

    Only when no pair is held out are training prompts used, so a run without an eval split still gets scores."""
    def distinct(split: str) -> list[Any]:
        seen: dict[str, Any] = {}
        for row in sorted((r for r in rows if r.split == split), key=lambda r: r.pair_id):
            seen.setdefault(repr(row.prompt), row.prompt)
        return list(seen.values())

    return (distinct("eval") or distinct("train"))[:max(0, count)]


def encode_prompt(tokenizer: Any, prompt: Any) -> list[int]:
    """Prompt ids exactly as training sees them (workbench.training.engine.data): the chat template with the assistant's
    opening when the tokenizer has one, the raw text otherwise."""
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(_messages(prompt, "user"), tokenize=False, add_generation_prompt=True)
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])
    return list(tokenizer(_as_text(prompt))["input_ids"])


def _eos_ids(model: torch.nn.Module, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for value in (getattr(getattr(model, "generation_config", None), "eos_token_id", None), tokenizer.eos_token_id):
        ids.update([value] if isinstance(value, int) else list(value or []))
    return ids


def _left_padded(rows: list[list[int]], pad_id: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """[B, P] ids and attention mask with padding on the left, so every row's next token is at the same column."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r, dtype=torch.long)
        mask[i, width - len(r):] = 1
    return ids.to(device), mask.to(device)


@torch.no_grad()
def generate_greedy(model: torch.nn.Module, tokenizer: Any, prompts: Sequence[Any], *, max_new_tokens: int,
                    batch_size: int) -> Generations:
    """Greedy answers, `batch_size` prompts per `generate` call (left padding); every sampling knob is explicit so
    a model's generation_config defaults cannot change the evaluation."""
    device = next(model.parameters()).device
    eos = _eos_ids(model, tokenizer)
    out = Generations(list(prompts), [encode_prompt(tokenizer, p) for p in prompts], [], [], [])
    for start in range(0, len(prompts), batch_size):
        rows = out.prompt_ids[start:start + batch_size]
        ids, mask = _left_padded(rows, tokenizer.pad_token_id, device)  # [B, P]
        seqs = model.generate(input_ids=ids, attention_mask=mask, **greedy_kwargs(tokenizer, eos, max_new_tokens))
        for new in seqs[:, ids.shape[1]:].tolist():  # [B, N] new tokens, padded after an early eos
            add_answer(out, new, eos, tokenizer)
    return out


def greedy_kwargs(tokenizer: Any, eos: set[int], max_new_tokens: int) -> dict[str, Any]:
    """`generate` arguments of greedy decoding, every sampling knob explicit."""
    return dict(max_new_tokens=max_new_tokens, do_sample=False, temperature=None, top_p=None, top_k=None,
                repetition_penalty=1.0, pad_token_id=tokenizer.pad_token_id, eos_token_id=sorted(eos) or None)


def add_answer(out: Generations, new: list[int], eos: set[int], tokenizer: Any) -> None:
    """Append one row's new tokens (padded after an early eos) to `out`: ids up to the eos, length, text."""
    stop = next((i for i, t in enumerate(new) if t in eos), None)
    response = new if stop is None else new[:stop + 1]
    out.response_ids.append(response)
    out.lengths.append(len(response) - (stop is not None))
    out.texts.append(tokenizer.decode(response, skip_special_tokens=True))


def _sequence_batch(prompt_ids: list[list[int]], response_ids: list[list[int]], pad_id: int,
                    device: torch.device) -> Batch:
    """Right-padded [B, T] rows of prompt+response with the completion mask on the response tokens."""
    seqs = [p + r for p, r in zip(prompt_ids, response_ids)]
    width = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    attn = torch.zeros_like(ids)
    comp = torch.zeros_like(ids)
    for i, (s, p) in enumerate(zip(seqs, prompt_ids)):
        ids[i, :len(s)] = torch.tensor(s, dtype=torch.long)
        attn[i, :len(s)] = 1
        comp[i, len(p):len(s)] = 1
    index = torch.arange(len(seqs), device=device)
    return Batch(ids.to(device), attn.to(device), comp.to(device), torch.zeros_like(index), index)


def default_reference(model: torch.nn.Module) -> ReferenceContext:
    """The reference is the base model: the policy with its adapter disabled (DESIGN.md §5)."""
    return lambda: model.disable_adapter() if hasattr(model, "disable_adapter") else contextlib.nullcontext()


@torch.no_grad()
def generation_kl(model: torch.nn.Module, gen: Generations, reference: ReferenceContext, *, pad_id: int,
                  batch_size: int, chunk_tokens: int) -> float:
    """Mean over generations of log π(y|x) − log π_ref(y|x), summed over the response tokens."""
    device = next(model.parameters()).device
    total = 0.0
    keep = [i for i, r in enumerate(gen.response_ids) if r]
    for start in range(0, len(keep), batch_size):
        idx = keep[start:start + batch_size]
        batch = _sequence_batch([gen.prompt_ids[i] for i in idx], [gen.response_ids[i] for i in idx], pad_id, device)
        policy = sequence_logps(model, batch, chunk_tokens=chunk_tokens).sum
        with reference():
            ref = sequence_logps(model, batch, chunk_tokens=chunk_tokens).sum
        total += float((policy - ref).double().sum())
    return total / len(keep) if keep else math.nan


def _eval_batches(data: TokenizedData, batch_size: int) -> Iterator[list[int]]:
    idx = data.indices("eval")
    for start in range(0, len(idx), batch_size):
        yield idx[start:start + batch_size]


@torch.no_grad()
def heldout_rewards(model: torch.nn.Module, data: TokenizedData, ref: Tensor | None, cfg: RunConfig,
                    reference: ReferenceContext, *, pad_id: int) -> dict[str, float]:
    """`<objective>/accuracy` and `<objective>/margin` of the implicit reward on the eval-split pairs.

    `ref` is the cached [N, 2] reference log-probs of `data` (chosen, rejected); None computes them here."""
    device = next(model.parameters()).device
    correct: dict[int, float] = {}
    margin: dict[int, float] = {}
    count: dict[int, int] = {}
    for idx in _eval_batches(data, cfg.batch_size):
        batch = collate(data, idx, pad_id, device)
        share = cfg.prefix_sharing  # each pair's prompt run once for both responses (prefix_sharing.py)
        lp = sequence_logps(model, batch, chunk_tokens=cfg.logprob_chunk, share_prompt=share).sum.double()  # [2B]
        if ref is None:
            with reference():
                r = sequence_logps(model, batch, chunk_tokens=cfg.logprob_chunk, share_prompt=share).sum.double()
            rc, rr = r[:len(idx)], r[len(idx):]
        else:
            rc, rr = ref[idx, 0].double().to(device), ref[idx, 1].double().to(device)
        diff = cfg.beta * ((lp[:len(idx)] - rc) - (lp[len(idx):] - rr))  # r(chosen) − r(rejected)  [B]
        for k, d in zip(batch.objective.tolist(), diff.tolist()):
            correct[k] = correct.get(k, 0.0) + float(d > 0)
            margin[k] = margin.get(k, 0.0) + d
            count[k] = count.get(k, 0) + 1
    out: dict[str, float] = {}
    for k, n in sorted(count.items()):
        name = data.objectives[k]
        out[f"{name}/accuracy"] = correct[k] / n
        out[f"{name}/margin"] = margin[k] / n
    return out


def score_generations(gen: Generations, scorers: dict[str, Scorer], cfg: RunConfig) -> dict[str, float]:
    """`<objective>/score`: the mean of each objective's scorer over the generations; `<objective>/reward`: the
    mean reward of the run's vector reward model (cfg.eval_reward_model) for every objective it has an output for
    (workbench.inference.reward_scoring)."""
    values: dict[str, float] = {}
    for objective, scorer in scorers.items():
        scores = [scorer(_as_text(p), text, {}) for p, text in zip(gen.prompts, gen.texts)]
        values[f"{objective}/score"] = sum(scores) / len(scores)
    if cfg.eval_reward_model and gen.texts:
        from workbench.inference.reward_scoring import reward_values

        values.update(reward_values(cfg.eval_reward_model, gen.prompts, gen.texts, cfg.objectives))
    return values


def evaluate_policy(model: torch.nn.Module, tokenizer: Any, data: TokenizedData, ref: Tensor | None,
                    prompts: Sequence[Any], cfg: RunConfig, scorers: dict[str, Scorer], *,
                    progress: Progress | None = None, reference: ReferenceContext | None = None) -> dict[str, float]:
    """The values of one point (module docstring), keyed `<objective>/<metric>` plus `kl` and `length`.

    `scorers` maps objective -> Scorer (cfg.eval_scorers resolved by the caller); `reference` enters the reference
    model (default: the adapter disabled; MAH-DPO callers also switch the heads off)."""
    reference = reference or default_reference(model)
    note = progress or (lambda _message, _fraction: None)
    was_training = model.training
    model.eval()
    try:
        note("held-out pairs", 0.0)
        values = heldout_rewards(model, data, ref, cfg, reference, pad_id=tokenizer.pad_token_id)
        if prompts:
            note(f"generating for {len(prompts)} prompts", 0.3)
            if cfg.eval_guide:  # reward-guided answers instead of greedy ones (issue #17)
                from workbench.inference.guided_eval import generate_guided

                gen = generate_guided(model, tokenizer, prompts, cfg)
            else:
                gen = generate_greedy(model, tokenizer, prompts, max_new_tokens=cfg.eval_max_new_tokens,
                                      batch_size=cfg.batch_size)
            note("scoring generations", 0.8)
            values.update(score_generations(gen, scorers, cfg))
            values["kl"] = generation_kl(model, gen, reference, pad_id=tokenizer.pad_token_id,
                                         batch_size=cfg.batch_size, chunk_tokens=cfg.logprob_chunk)
            values["length"] = sum(gen.lengths) / len(gen.lengths)
        note("done", 1.0)
        return values
    finally:
        model.train(was_training)
