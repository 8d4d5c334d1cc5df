"""Evaluating K MAH-DPO mixtures: one mixture vs K one at a time vs K from one trunk pass (issue #14).

    .venv/bin/python tests/benchmarks/bench_eval_mixtures.py [--models tiny smollm] [--mixtures 5] [--pairs 32]
        [--prompts 8] [--new-tokens 32] [--threads 1] [--repeats 2] [--no-loop]

Per model: a LoRA policy (r=16 on q,k,v,o,gate,up,down, random B) with two random MAH-DPO heads (rank 16), `--pairs`
held-out pairs (reference cached, as the eval worker has it) and `--prompts` greedy generations of up to
`--new-tokens` tokens. Timed, alternating, median of `--repeats`:
  one      evaluate.evaluate_policy for one mixture (held-out rewards + generation + scores + KL)
  K loop   evaluate_policy K times (what the eval worker did before issue #14)
  K batch  mixtures.evaluate_mixtures: held-out rewards of all K from one trunk pass, generations of all K batched
           with each prompt prefilled once, the KL of all K answers with each prompt run once (prompt_fanout.py)
and the held-out part alone (one vs K batch). The ratio that matters is "K batch / one". Prefix sharing is on
(RunConfig's default) for both. --no-loop skips "K loop" (≈ K × one) on a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "benchmarks"))

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _setup(model_path: str, pairs: int, prompts: int, new_tokens: int):  # type: ignore[no-untyped-def]
    import torch
    from bench_training import bench_rows

    from workbench.core.run_config import RunConfig
    from workbench.training.engine.data import PairRow, tokenize_pairs
    from workbench.training.preference.heads import MixingHook, ObjectiveHeads, output_head
    from workbench.training.engine.lora import attach_lora
    from workbench.training.engine.model_loading import load_model
    from workbench.training.engine.reference import reference_logps

    cfg = RunConfig(model=model_path, device="cpu", batch_size=4, max_length=256, max_prompt_length=128,
                    eval_max_new_tokens=new_tokens, target_modules=TARGETS)
    loaded = load_model(cfg, for_training=False)
    model = attach_lora(loaded.model, cfg).eval()
    gen = torch.Generator().manual_seed(0)
    heads = ObjectiveHeads(["brevity", "detail"], output_head(model).weight.shape[1], 16)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.01)
        heads.B.copy_(torch.randn(heads.B.shape, generator=gen) * 0.1)
    hook = MixingHook(model, heads)
    rows = [PairRow(**dict(r, objective=("brevity", "detail")[i % 2], split="eval"))
            for i, r in enumerate(bench_rows(pairs))]
    tok = loaded.tokenizer
    data = tokenize_pairs(rows, tok, max_length=256, max_prompt_length=128)
    with hook.disabled():
        ref = reference_logps(model, data, batch_size=4, chunk_tokens=1024, cache_path=None, pad_id=tok.pad_token_id)
    prompt_list = list(dict.fromkeys(r.prompt for r in rows))[:prompts]
    return cfg, model, tok, heads, hook, data, ref, prompt_list


def run(model_path: str, a: argparse.Namespace) -> dict[str, float]:
    import contextlib

    from workbench.training.evaluation.evaluate import evaluate_policy, heldout_rewards
    from workbench.training.evaluation.mixtures import evaluate_mixtures, heldout_rewards_mixtures

    cfg, model, tok, heads, hook, data, ref, prompts = _setup(model_path, a.pairs, a.prompts, a.new_tokens)
    k = a.mixtures
    mixtures = [{"brevity": i / max(1, k - 1), "detail": 1 - i / max(1, k - 1)} for i in range(k)]

    @contextlib.contextmanager
    def reference():
        with model.disable_adapter(), hook.disabled():
            yield

    def mix(w: dict[str, float]) -> None:
        hook.set_weights(w)

    def one() -> None:
        mix(mixtures[0])
        evaluate_policy(model, tok, data, ref, prompts, cfg, {}, reference=reference)

    def loop() -> None:
        for w in mixtures:
            mix(w)
            evaluate_policy(model, tok, data, ref, prompts, cfg, {}, reference=reference)

    def batch() -> None:
        evaluate_mixtures(model, tok, heads, data, ref, prompts, cfg, {}, mixtures, mix=mix, base_head=hook.disabled,
                          reference=reference)

    def held_one() -> None:
        mix(mixtures[0])
        heldout_rewards(model, data, ref, cfg, reference, pad_id=tok.pad_token_id)

    def held_batch() -> None:
        heldout_rewards_mixtures(model, heads, data, ref, mixtures, beta=cfg.beta, batch_size=cfg.batch_size,
                                 chunk_tokens=cfg.logprob_chunk, pad_id=tok.pad_token_id, base_head=hook.disabled,
                                 reference=reference, share_prompt=cfg.prefix_sharing)

    cases = {"one": one, "K loop": loop, "K batch": batch, "held-out one": held_one, "held-out K batch": held_batch}
    if a.no_loop:
        del cases["K loop"]
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(a.repeats):
        for name, fn in cases.items():  # alternate the cases inside each repeat
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=["tiny", "smollm"], default=["tiny"])
    parser.add_argument("--mixtures", type=int, default=5)
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-loop", action="store_true")
    a = parser.parse_args()
    import torch

    from bench_training import smollm_folder

    from workbench.training.tiny_model import build_tiny_model

    if a.threads:
        torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory(prefix="bench-mixtures-") as tmp:
        paths = {}
        if "tiny" in a.models:
            paths["tiny"] = str(build_tiny_model(Path(tmp) / "tiny"))
        if "smollm" in a.models:
            paths["SmolLM2-135M"] = smollm_folder(Path(tmp))
        print(f"cpu, {torch.get_num_threads()} thread(s); {a.pairs} held-out pairs, {a.prompts} prompts x "
              f"{a.new_tokens} new tokens, K = {a.mixtures} mixtures, median of {a.repeats}")
        print(f"| {'model':<13}| {'one s':>7} | {'K loop s':>8} | {'K batch s':>9} | {'K batch/one':>11} "
              f"| {'held-out one s':>14} | {'held-out K s':>12} | {'ratio':>6} |")
        print("|" + "|".join("-" * w for w in (14, 9, 10, 11, 13, 16, 14, 8)) + "|")
        for name, path in paths.items():
            t = run(path, a)
            print(f"| {name:<13}| {t['one']:7.2f} | {t.get('K loop', float('nan')):8.2f} | {t['K batch']:9.2f} | "
                  f"{t['K batch'] / t['one']:10.2f}x | {t['held-out one']:14.2f} | {t['held-out K batch']:12.2f} | "
                  f"{t['held-out K batch'] / t['held-out one']:5.2f}x |", flush=True)


if __name__ == "__main__":
    main()
