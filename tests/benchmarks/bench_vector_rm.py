"""The vector reward model learns two independent objectives at once (issue #17 item 4): held-out pairwise
accuracy per objective on a synthetic two-objective set.

    .venv/bin/python tests/benchmarks/bench_vector_rm.py [--pairs 400] [--steps 300] [--seeds 0 1 2]

Data (`synthetic_rows`): pairs of responses built from a fixed word pool, one with the keyword "please" and one
without, with two different word counts drawn from 3..14 (as close as one word apart), independently. Objective `polite` prefers the response containing the
keyword, objective `brief` the one with fewer words; in every pair the two responses differ in both respects, and
whether the polite one is also the brief one is a coin flip, so the objectives agree on half the pairs and a
single reward (one output for both) could average at most ~75% over the two. Every pair is labelled for both objectives; 20% of the pairs are
held out.

Model: the tiny offline Llama of the tests (2 layers, hidden 64, random weights), LoRA r=16 on every projection
+ a 2-output head, objective-balanced batches of 8, AdamW lr 3e-3, cosine schedule. The table gives held-out
accuracy per objective (target ≥ 90% each) and the training time (contended CPU: indicative only).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

WORDS = ("the sea is wide and blue a short answer is often best here is a helpful response to what you asked "
         "water bread house friend tomorrow good morning thank you numbers one two three four five").split()
KEYWORD = "please"
PROMPTS = ["Tell me about {}.", "What do you think of {}?", "Write a line about {}.", "Describe {} to me."]
TOPICS = ["the sea", "Paris", "eggs", "numbers", "Python", "the fox", "water", "a poem", "bread", "friends"]


def _response(rng: random.Random, words: int, polite: bool) -> str:
    body = [rng.choice(WORDS) for _ in range(words - (1 if polite else 0))]
    if polite:
        body.insert(rng.randrange(len(body) + 1), KEYWORD)
    return " ".join(body).capitalize() + "."


def synthetic_rows(pairs: int, seed: int, eval_fraction: float = 0.2) -> list[dict]:
    """Two rows per pair (objectives `polite` and `brief`), the module docstring's rules."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for pid in range(1, pairs + 1):
        prompt = rng.choice(PROMPTS).format(rng.choice(TOPICS))
        short, long = sorted(rng.sample(range(3, 15), 2))  # two different lengths, as close as 1 word apart
        a_polite, a_short = rng.random() < 0.5, rng.random() < 0.5
        a = _response(rng, short if a_short else long, a_polite)
        b = _response(rng, long if a_short else short, not a_polite)
        split = "eval" if rng.random() < eval_fraction else "train"
        polite, rude = (a, b) if a_polite else (b, a)
        brief, wordy = (a, b) if a_short else (b, a)
        rows.append({"pair_id": pid, "objective": "polite", "prompt": prompt, "chosen": polite, "rejected": rude,
                     "split": split})
        rows.append({"pair_id": pid, "objective": "brief", "prompt": prompt, "chosen": brief, "rejected": wordy,
                     "split": split})
    return rows


def run(model_dir: Path, pairs: int, steps: int, seed: int) -> dict[str, float]:
    from workbench.core.run_config import RunConfig
    from workbench.training.reward_models.vector_rm_trainer import VectorRMTrainer

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "0001-rm"
        run_dir.mkdir()
        rows = synthetic_rows(pairs, seed)
        (run_dir / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        cfg = RunConfig(kind="reward_model", model=str(model_dir), device="cpu", batch_size=8, max_steps=steps,
                        learning_rate=3e-3, max_length=64, max_prompt_length=24, eval_every=0,
                        checkpoint_every=0, active_candidates=0, seed=seed)
        events: list = []
        trainer = VectorRMTrainer(cfg, run_dir, emit=lambda t, **d: events.append((t, d)))
        t0 = time.perf_counter()
        trainer.prepare()
        trainer.run()
        seconds = time.perf_counter() - t0
    final = [d["values"] for t, d in events if t == "metric" and "eval/loss" in d["values"]][-1]
    held_out = sum(r["split"] == "eval" for r in rows) // 2
    return {"polite": final["eval/polite/accuracy"], "brief": final["eval/brief/accuracy"], "held_out": held_out,
            "seconds": seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=400)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    import torch

    from workbench.training.tiny_model import build_tiny_model

    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_model(Path(tmp) / "tiny")
        print(f"vector RM, tiny Llama (hidden 64, 2 layers), {a.pairs} pairs x 2 objectives, {a.steps} steps")
        print(f"{'seed':>4} {'held-out pairs':>14} {'polite acc':>10} {'brief acc':>10} {'train s':>8}")
        results = []
        for seed in a.seeds:
            r = run(model_dir, a.pairs, a.steps, seed)
            results.append(r)
            print(f"{seed:>4} {r['held_out']:>14} {r['polite']:>10.3f} {r['brief']:>10.3f} {r['seconds']:>8.1f}")
        mean = {k: sum(r[k] for r in results) / len(results) for k in ("polite", "brief")}
        print(f"{'mean':>4} {'':>14} {mean['polite']:>10.3f} {mean['brief']:>10.3f}   (target >= 0.900 each)")


if __name__ == "__main__":
    main()
