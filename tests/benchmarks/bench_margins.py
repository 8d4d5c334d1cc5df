"""The active-queue margin pass vs the reference pass on the same pairs (issue #14).

    .venv/bin/python tests/benchmarks/bench_margins.py [--models tiny smollm] [--pairs 32] [--threads 1] [--repeats 2]

Per model: a LoRA policy (r=16 on all projections, random B), `--pairs` pairs of bench_training.py, batch 4.
Timed, alternating, median of `--repeats`:
  reference pass     ReferenceCache.complete: every pair's reference log-probs (adapter off), no grad
  margins, cached    margins.score_margins with the reference known (the run's own pairs after training)
  margins, cold      margins.score_margins with no reference known (a project's first run: its unlabelled
                     candidates need reference + policy)
  margins, later run score_margins with no run-level cache but the project's shared table of candidate references
                     (shared_reference.py) filled by an earlier run: what every later run's candidates cost
The issue's target is ≤ 1.2× the reference pass; a cold pair needs both forwards, so it holds from a project's
second run on (for candidates an earlier run scored) and for the run's own pairs, never for a first run's.
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


def run(model_path: str, a: argparse.Namespace) -> dict[str, float]:
    import torch
    from bench_training import MAX_LENGTH, TARGETS, bench_rows
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.core.run_config import RunConfig
    from workbench.training.engine.data import PairRow, tokenize_pairs
    from workbench.training.engine.logprobs import sequence_logps
    from workbench.training.engine.lora import attach_lora
    from workbench.training.preference.margins import score_margins
    from workbench.training.engine.reference_cache import ReferenceCache
    from workbench.training.engine.shared_reference import SharedReference

    tok = AutoTokenizer.from_pretrained(model_path)
    data = tokenize_pairs([PairRow(**r) for r in bench_rows(a.pairs)], tok, max_length=MAX_LENGTH,
                          max_prompt_length=MAX_LENGTH // 2)
    model = attach_lora(AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32),
                        RunConfig(lora_r=16, lora_alpha=32, target_modules=TARGETS))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.01)
    share = not a.no_prefix_sharing

    def cache(shared: SharedReference | None = None) -> ReferenceCache:
        return ReferenceCache(model, data, chunk_tokens=1024, pad_id=tok.pad_token_id, model_id=model_path,
                              share_prompt=share, shared=shared)

    table = tempfile.mkdtemp(prefix="bench-shared-ref-")
    first = cache(SharedReference(table, model_path, torch.float32))
    first.complete(batch_size=4, device=torch.device("cpu"))
    first.save()  # the earlier run's table

    def later_run() -> None:
        score_margins(model, policy, data, cache(SharedReference(table, model_path, torch.float32)), beta=0.1,
                      batch_size=4, pad_id=tok.pad_token_id)

    def policy(m, batch):  # type: ignore[no-untyped-def]
        return sequence_logps(m, batch, share_prompt=share)

    known = cache()
    known.complete(batch_size=4, device=torch.device("cpu"))
    cases = {
        "reference pass": lambda: cache().complete(batch_size=4, device=torch.device("cpu")),
        "margins, cached": lambda: score_margins(model, policy, data, known, beta=0.1, batch_size=4,
                                                 pad_id=tok.pad_token_id),
        "margins, cold": lambda: score_margins(model, policy, data, cache(), beta=0.1, batch_size=4,
                                               pad_id=tok.pad_token_id),
        "margins, later run": later_run,
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(a.repeats):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=["tiny", "smollm"], default=["tiny"])
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-prefix-sharing", action="store_true")
    a = parser.parse_args()
    import torch
    from bench_training import smollm_folder

    from workbench.training.tiny_model import build_tiny_model

    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory(prefix="bench-margins-") as tmp:
        paths = {}
        if "tiny" in a.models:
            paths["tiny"] = str(build_tiny_model(Path(tmp) / "tiny"))
        if "smollm" in a.models:
            paths["SmolLM2-135M"] = smollm_folder(Path(tmp))
        print(f"cpu, {torch.get_num_threads()} thread(s), {a.pairs} pairs, batch 4, prefix sharing "
              f"{'off' if a.no_prefix_sharing else 'on'}, median of {a.repeats} alternating repeats")
        print("| model | reference pass s | margins, cached s | ratio | margins, cold (1st run) s | ratio "
              "| margins, later run s | ratio |")
        print("|---|---|---|---|---|---|---|---|")
        for name, path in paths.items():
            r = run(path, a)
            ref = r["reference pass"]
            print(f"| {name} | {ref:.2f} | {r['margins, cached']:.2f} | {r['margins, cached'] / ref:.2f}x | "
                  f"{r['margins, cold']:.2f} | {r['margins, cold'] / ref:.2f}x | {r['margins, later run']:.2f} | "
                  f"{r['margins, later run'] / ref:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
