"""Greedy generation speed of SmolLM2-135M (or the tiny model) on CPU: what transformers offers, measured (issue #14).

    .venv/bin/python tests/benchmarks/bench_generation.py [--models smollm tiny] [--prompts 8] [--new-tokens 64]
        [--threads 1] [--repeats 2]

Variants, alternating, median of --repeats, new tokens counted up to each row's eos:
  one-by-one dynamic   each prompt alone, the default DynamicCache (the playground's path: one streamed request)
  one-by-one static    each prompt alone, cache_implementation="static" (preallocated KV cache)
  batched dynamic      all prompts in one left-padded `generate` (the evaluation's path, evaluate.generate_greedy)
  batched static       the same with the static cache
tokens/s = generated tokens / wall time. torch.compile is not measured: its compile time on CPU (tens of seconds)
exceeds a whole evaluation here, so it cannot pay for itself in the app.
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
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.training.evaluation.evaluate import _eos_ids, _left_padded, encode_prompt

    tok = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32).eval()
    topics = ["the sea", "Paris", "eggs", "numbers", "Python", "the fox", "water", "bread", "music", "rivers"]
    prompts = [encode_prompt(tok, f"Write a few sentences about {topics[i % len(topics)]}.")
               for i in range(a.prompts)]
    eos = sorted(_eos_ids(model, tok))
    pad = tok.pad_token_id if tok.pad_token_id is not None else eos[0]

    def generate(rows: list[list[int]], cache: str | None) -> int:
        ids, mask = _left_padded(rows, pad, torch.device("cpu"))
        kw = {"cache_implementation": cache} if cache else {}
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=a.new_tokens, do_sample=False,
                                 temperature=None, top_p=None, top_k=None, pad_token_id=pad, eos_token_id=eos, **kw)
        new = 0
        for row in out[:, ids.shape[1]:].tolist():
            stop = next((i for i, t in enumerate(row) if t in eos), None)
            new += len(row) if stop is None else stop + 1
        return new

    variants = {
        "one-by-one dynamic": lambda: sum(generate([p], None) for p in prompts),
        "one-by-one static": lambda: sum(generate([p], "static") for p in prompts),
        "batched dynamic": lambda: generate(prompts, None),
        "batched static": lambda: generate(prompts, "static"),
    }
    rates: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(a.repeats):
        for name, fn in variants.items():
            t0 = time.perf_counter()
            n = fn()
            rates[name].append(n / (time.perf_counter() - t0))
    return {k: statistics.median(v) for k, v in rates.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=["tiny", "smollm"], default=["smollm"])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    a = parser.parse_args()
    import torch
    from bench_training import smollm_folder

    from workbench.training.tiny_model import build_tiny_model

    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory(prefix="bench-generation-") as tmp:
        paths = {}
        if "smollm" in a.models:
            paths["SmolLM2-135M"] = smollm_folder(Path(tmp))
        if "tiny" in a.models:
            paths["tiny"] = str(build_tiny_model(Path(tmp) / "tiny"))
        print(f"cpu, {torch.get_num_threads()} thread(s), {a.prompts} prompts x up to {a.new_tokens} new tokens, "
              f"greedy, fp32, median of {a.repeats}; tokens/s")
        names = ("one-by-one dynamic", "one-by-one static", "batched dynamic", "batched static")
        print("| model | " + " | ".join(names) + " |")
        print("|---|" + "---|" * len(names))
        for name, path in paths.items():
            r = run(path, a)
            print(f"| {name} | " + " | ".join(f"{r[n]:.1f}" for n in names) + " |", flush=True)


if __name__ == "__main__":
    main()
