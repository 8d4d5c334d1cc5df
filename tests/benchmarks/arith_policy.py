"""A tiny character-level policy for the synthetic arithmetic task (core/arith_task.py), trained from scratch on
CPU in minutes: the policy of bench_guided_decoding.py and of the guided-decoding playground screenshot.

It reads `prompt + "\\n"` and writes the steps one per line, then eos. It is trained on solutions of which
`error_rate` carry an injected error (a wrong result at one step, arith_task's rule), so besides its own slips it
has learnt to make mistakes sometimes: a policy that solves the task imperfectly, which is what guided decoding is
for. The tokenizer has one token per character (printable ASCII + newline), so numbers are written digit by
digit and a step ends exactly at its "\\n" token.

    python -m tests.benchmarks.arith_policy OUT_DIR [--steps 1500]
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from pathlib import Path

import torch

from workbench.core.arith_task import ArithProblem, generate_problems

EOS, PAD = "<|endoftext|>", "<|pad|>"
CHARS = ["\n"] + [chr(c) for c in range(32, 127)]
SEPARATOR = "\n"
TASK = {"min_ops": 2, "max_ops": 3}  # 3-4 steps per problem: short sequences, CPU-sized


def char_tokenizer():
    """One token per character (printable ASCII and newline), eos and pad; no chat template (raw text)."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate([EOS, PAD, *CHARS])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=PAD))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("[\\s\\S]"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=PAD, bos_token=None,
                                   unk_token=PAD)


def policy_prompt(problem_prompt: str) -> str:
    """What the policy reads before its first step (the PRM reads the bare prompt)."""
    return problem_prompt + SEPARATOR


def _example(tokenizer, p: ArithProblem) -> tuple[list[int], list[int]]:
    prompt = tokenizer(policy_prompt(p.prompt))["input_ids"]
    answer = tokenizer(p.solution)["input_ids"] + [tokenizer.eos_token_id]
    return prompt + answer, [-100] * len(prompt) + answer


def train_policy(out: Path, *, steps: int = 1500, batch: int = 16, hidden: int = 64, layers: int = 3,
                 error_rate: float = 0.3, lr: float = 3e-3, seed: int = 0, init: Path | None = None,
                 log=print) -> Path:
    """Train and save (model + tokenizer, HF folder) the policy; returns `out`. Loss on the solution tokens only.
    `init`: start from that model's weights instead of random ones (e.g. the PRM's base: the policy trained on
    correct solutions only, error_rate 0)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = char_tokenizer()
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 8 // 3,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                         max_position_embeddings=512, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=None, tie_word_embeddings=True)
    model = LlamaForCausalLM(config) if init is None else LlamaForCausalLM.from_pretrained(init)
    problems = generate_problems(steps * batch, seed=1000 + seed, error_rate=error_rate, **TASK)
    rng = random.Random(seed)
    rng.shuffle(problems)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01, betas=(0.9, 0.98))
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, s / steps)))))
    model.train()
    start, recent = time.perf_counter(), []
    for step in range(steps):
        rows = [_example(tokenizer, p) for p in problems[step * batch:(step + 1) * batch]]
        width = max(len(ids) for ids, _ in rows)
        ids = torch.full((len(rows), width), tokenizer.pad_token_id)
        labels = torch.full((len(rows), width), -100)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (x, y) in enumerate(rows):
            ids[i, :len(x)], labels[i, :len(y)], mask[i, :len(x)] = torch.tensor(x), torch.tensor(y), 1
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        recent = (recent + [float(loss.detach())])[-50:]
        if (step + 1) % 50 == 0 or step + 1 == steps:
            log(f"policy step {step + 1}/{steps}  loss {sum(recent) / len(recent):.3f}  "
                f"{time.perf_counter() - start:.0f} s")
    out.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    (out / "arith_policy.json").write_text(json.dumps({"steps": steps, "batch": batch, "hidden": hidden,
                                                       "layers": layers, "error_rate": error_rate, "task": TASK,
                                                       "seed": seed, "init": str(init or "")}, indent=2),
                                           encoding="utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(train_policy(args.out, steps=args.steps))


if __name__ == "__main__":
    main()
