"""A process reward model trained on the synthetic arithmetic task (issue #17's must-show: >= 90% held-out step
accuracy with a tiny model).

    .venv/bin/python tests/benchmarks/bench_prm.py [--head implicit|classifier] [--steps 2000] [--threads 2]

The classifier row of the README: --head classifier --steps 3000 --lr 3e-3 --rank 32.

Data: workbench.core.arith_task, error_rate 0.5 (half the solutions carry one injected, propagating error; steps
are good before the first error, bad from it on), 2-5 computation steps + "The answer is X."; train problems of
seed 0, held-out problems of seed 1 (the held-out split of the run: each row's "split" is "eval").
Model: a tiny random-init Llama (build_tiny_model, hidden/layers below) whose BPE tokenizer is trained on the task's
text with one token per digit; LoRA on every projection + the PRM head (PRMTrainer, kind = "prm"): --head implicit
(the default: beta x the adapter's summed log-ratio to the base + a bias, training/reward_models/implicit_prm.py)
or classifier (TRL's 2-class head on the separator's hidden state), run through the real trainer (checkpoints,
events) in this process.
Printed: held-out step accuracy and F1 (bad steps), ProcessBench first-error acc_err / acc_cor / F1, the
majority-class baseline ("every step good"), training time (contended CPU: only the accuracies are the result).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def arith_corpus(n: int = 400) -> str:
    """Text of the task for the tokenizer (prompts and steps; the tokenizer never sees the labels)."""
    from workbench.core.arith_task import generate_problems

    return "\n".join(p.prompt + "\n" + p.solution for p in generate_problems(n, seed=99))


def build_arith_model(out: Path, *, hidden: int, layers: int, heads: int) -> Path:
    from workbench.training.tiny_model import build_tiny_model

    return build_tiny_model(out, hidden=hidden, layers=layers, heads=heads, vocab_size=512,
                            corpus=arith_corpus(), split_digits=True)


def pretrain_lm(model_dir: Path, out: Path, *, steps: int, batch: int, lr: float) -> Path:
    """Full-parameter next-token training of the tiny base on CORRECT solutions of other problems (seed 7): a
    stand-in for the math-pretrained base a real PRM starts from (a random-init base learns arithmetic from 4
    step labels per solution far too slowly for a CPU benchmark). The PRM never sees these problems or labels."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.core.arith_task import generate_problems

    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    texts = [p.prompt + "\n" + p.solution for p in generate_problems(steps * batch, seed=7, error_rate=0.0)]
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    t0 = time.perf_counter()
    for s in range(steps):
        enc = tok(texts[s * batch:(s + 1) * batch], return_tensors="pt", padding=True)
        loss = model(**enc, labels=enc.input_ids.masked_fill(enc.attention_mask == 0, -100)).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        for g in opt.param_groups:
            g["lr"] = lr * (1 - (s + 1) / steps)
        if (s + 1) % 100 == 0:
            print(f"  pretrain step {s + 1:5d}  LM loss {loss.item():.3f}  {time.perf_counter() - t0:.0f} s", flush=True)
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--train", type=int, default=3000, help="training problems")
    ap.add_argument("--eval", type=int, default=300, help="held-out problems")
    ap.add_argument("--head", choices=("implicit", "classifier"), default="implicit", help="RunConfig.prm_head")
    ap.add_argument("--beta", type=float, default=1.0, help="RunConfig.prm_beta (implicit head)")
    ap.add_argument("--steps", type=int, default=2000, help="optimizer steps")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--error-rate", type=float, default=0.5)
    ap.add_argument("--kinds", default="copy", help="injected error kinds, comma-separated: slip, copy")
    ap.add_argument("--pretrain-steps", type=int, default=800, help="LM steps on correct solutions first (0 = off)")
    ap.add_argument("--pretrain-batch", type=int, default=32)
    ap.add_argument("--pretrain-lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on an oversubscribed CPU)")
    ap.add_argument("--eval-every", type=int, default=500)
    ap.add_argument("--keep", type=Path, default=None, help="keep the run folder here (else a temp folder)")
    ap.add_argument("--model", default="", help="use this base model (a folder or hub id, e.g. SmolLM2's converted "
                                                "folder) instead of building and pretraining the tiny one")
    a = ap.parse_args()

    import torch

    torch.set_num_threads(a.threads)
    from workbench.core.arith_task import generate_problems
    from workbench.core.run_config import RunConfig
    from workbench.inference.prm_scoring import PRMScorer
    from workbench.training.reward_models.prm_trainer import PRMTrainer

    tmp = tempfile.TemporaryDirectory()
    root = a.keep or Path(tmp.name)
    run_dir = root / "0001-prm-bench"
    run_dir.mkdir(parents=True, exist_ok=True)
    model = a.model or build_arith_model(root / "model", hidden=a.hidden, layers=a.layers, heads=a.heads)
    t0 = time.perf_counter()
    if a.pretrain_steps and not a.model:
        model = pretrain_lm(model, root / "pretrained", steps=a.pretrain_steps, batch=a.pretrain_batch,
                            lr=a.pretrain_lr)
    pretrain_s = time.perf_counter() - t0
    kinds = tuple(a.kinds.split(","))
    train = generate_problems(a.train, seed=0, error_rate=a.error_rate, error_kinds=kinds)
    held = generate_problems(a.eval, seed=1, error_rate=a.error_rate, error_kinds=kinds)
    seen = {p.prompt + p.solution for p in train}
    held = [p for p in held if p.prompt + p.solution not in seen]  # held out means never trained on
    rows = [{**p.trl_row(), "split": "train"} for p in train] + [{**p.trl_row(), "split": "eval"} for p in held]
    (run_dir / "steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = RunConfig(kind="prm", model=str(model), device="cpu", max_steps=a.steps, batch_size=a.batch,
                    learning_rate=a.lr, lora_r=a.rank, lora_alpha=a.rank, warmup_ratio=0.05,
                    eval_every=a.eval_every, checkpoint_every=a.steps, log_every=50, max_length=256,
                    max_prompt_length=128, seed=0, prm_head=a.head, prm_beta=a.beta)
    curve: list[tuple[int, dict[str, float]]] = []

    def emit(kind: str, **data: object) -> None:
        if kind == "metric" and any(str(k).startswith("eval/") for k in data["values"]):  # type: ignore[union-attr]
            curve.append((int(data["step"]), dict(data["values"])))  # type: ignore[arg-type]
            v = curve[-1][1]
            print(f"  step {curve[-1][0]:5d}  eval step acc {v['eval/steps/accuracy']:.3f}  "
                  f"F1 {v['eval/steps/f1']:.3f}  first-error F1 {v['eval/first_error/f1']:.3f}", flush=True)

    trainer = PRMTrainer(cfg, run_dir, emit=emit)
    trainer.prepare()
    n_params = sum(p.numel() for p in trainer.model.parameters())
    t0 = time.perf_counter()
    trainer.run()
    train_s = time.perf_counter() - t0
    final = curve[-1][1]

    # the saved checkpoint, scored by the inference path, must give the same numbers
    scorer = PRMScorer(run_dir / "checkpoints" / f"step-{a.steps}", device="cpu")
    scores = scorer.score_batch([(p.prompt, list(p.steps)) for p in held], batch_size=32)
    labels = [p.labels for p in held]
    correct = sum((s >= 0.5) == y for ss, yy in zip(scores, labels, strict=True) for s, y in zip(ss, yy, strict=True))
    n_steps = sum(len(y) for y in labels)
    good = sum(sum(y) for y in labels)

    print()
    print(f"PRM on the synthetic arithmetic task: {len(train)} train / {len(held)} held-out solutions "
          f"({n_steps} held-out steps, {1 - good / n_steps:.1%} bad), error rate {a.error_rate}, kinds {a.kinds}")
    head = f"implicit head (beta {a.beta:g})" if a.head == "implicit" else "classifier head"
    base = a.model or f"tiny Llama hidden {a.hidden} x {a.layers} layers"
    print(f"{base} ({n_params / 1e6:.2f}M params), LoRA r={a.rank} + {head}, "
          f"{a.steps} steps x batch {a.batch}, lr {a.lr:g}")
    print(("" if a.model else f"base pretrained on correct solutions for {a.pretrain_steps} LM steps x batch "
           f"{a.pretrain_batch} ({pretrain_s:.0f} s); ") + f"PRM training {train_s:.0f} s ({a.threads} thread(s), contended CPU)")
    print()
    print("| metric (held-out)              | value |")
    print("|--------------------------------|-------|")
    print(f"| step accuracy                  | {final['eval/steps/accuracy']:.3f} |")
    print(f"| step F1 (bad steps)            | {final['eval/steps/f1']:.3f} |")
    print(f"| first error: acc_err           | {final['eval/first_error/acc_err']:.3f} |")
    print(f"| first error: acc_cor           | {final['eval/first_error/acc_cor']:.3f} |")
    print(f"| first error: F1 (ProcessBench) | {final['eval/first_error/f1']:.3f} |")
    print(f"| baseline: every step good      | {good / n_steps:.3f} |")
    print(f"| PRMScorer step accuracy        | {correct / n_steps:.3f} |")
    tmp.cleanup()


if __name__ == "__main__":
    main()
