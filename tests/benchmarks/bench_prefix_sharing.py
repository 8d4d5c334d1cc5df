"""One training micro-batch (policy forward + backward, LoRA) with and without prefix sharing (issue #14).

    .venv/bin/python tests/benchmarks/bench_prefix_sharing.py [--models tiny smollm] [--batches 6] [--threads 1]

Same pairs as bench_training.py (chat template applied), batch 4, max_length 256, LoRA r16 on all projections, fp32.
The two paths alternate batch by batch; the table shows the median time of each and the prompt's share of the
plain batch's real tokens (the work prefix sharing can save).
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


def run(model_path: str, batches: int) -> dict[str, float]:
    import torch
    from bench_training import MAX_LENGTH, TARGETS, bench_rows
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from workbench.core.run_config import RunConfig
    from workbench.training.engine.data import PairRow, collate, length_grouped_batches, tokenize_pairs
    from workbench.training.engine.logprobs import sequence_logps
    from workbench.training.engine.lora import attach_lora

    tok = AutoTokenizer.from_pretrained(model_path)
    data = tokenize_pairs([PairRow(**r) for r in bench_rows(4 * batches)], tok, max_length=MAX_LENGTH,
                          max_prompt_length=MAX_LENGTH // 2)
    model = attach_lora(AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.float32),
                        RunConfig(lora_r=16, lora_alpha=32, target_modules=TARGETS))
    order = length_grouped_batches(data, list(range(len(data))), 4, seed=0, epoch=0)
    times: dict[bool, list[float]] = {False: [], True: []}
    prompt_tokens = real_tokens = 0
    for idx in order:
        batch = collate(data, idx, tok.pad_token_id)
        prompt_tokens += 2 * sum(len(data.prompt_ids[i]) for i in idx)
        real_tokens += int(batch.attention_mask.sum())
        for share in (False, True):
            t0 = time.perf_counter()
            sequence_logps(model, batch, share_prompt=share).sum.sum().backward()
            times[share].append(time.perf_counter() - t0)
            model.zero_grad(set_to_none=True)
    return {"plain": statistics.median(times[False][1:]), "shared": statistics.median(times[True][1:]),
            "prompt_share": prompt_tokens / real_tokens}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", choices=["tiny", "smollm"], default=["tiny"])
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--threads", type=int, default=1)
    a = parser.parse_args()
    import torch
    from bench_training import smollm_folder

    from workbench.training.tiny_model import build_tiny_model

    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory(prefix="bench-prefix-") as tmp:
        paths = {}
        if "tiny" in a.models:
            paths["tiny"] = str(build_tiny_model(Path(tmp) / "tiny"))
        if "smollm" in a.models:
            paths["SmolLM2-135M"] = smollm_folder(Path(tmp))
        print(f"cpu, {torch.get_num_threads()} thread(s), batch 4 pairs, median of {a.batches - 1} alternating batches")
        print("| model | plain s | shared prompt s | speed-up | prompt share of tokens |")
        print("|---|---|---|---|---|")
        for name, path in paths.items():
            r = run(path, a.batches)
            print(f"| {name} | {r['plain']:.3f} | {r['shared']:.3f} | {r['plain'] / r['shared']:.2f}x | "
                  f"{r['prompt_share']:.0%} |", flush=True)


if __name__ == "__main__":
    main()
