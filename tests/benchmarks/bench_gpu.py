"""GPU readiness check: LoRA DPO steps on a random-initialised 0.45B Llama (built from a config, nothing
downloaded) in bf16 autocast with SDPA attention, ours vs TRL's DPOTrainer on the same model, data and settings.

    .venv/bin/python tests/benchmarks/bench_gpu.py [--seq 1024] [--batch-size 8] [--steps 20] [--warmup 5]
                                                   [--peak-tflops 989]   (needs a CUDA GPU and `pip install .[bench]`)

Without a CUDA GPU it prints why and exits 0. Each side runs in its own fresh process (`--only ours|trl`), so
peak memory is that trainer's alone. Printed per side: tokens/s (non-padding tokens of the pairs a step trains on:
2 × prompt + chosen + rejected, the same pairs on both sides), the median step time after --warmup steps, peak
CUDA memory (max allocated), and MFU = model FLOPs per second / the GPU's peak dense bf16 FLOP/s.

Model FLOPs per pair-token, LoRA with a frozen base: forward 2·P (P = parameters of the body's matmuls) plus the
activation-gradient backward 2·P (no weight gradients for frozen weights; the LoRA matmuls are < 1% and not
counted), plus causal attention 4·T·d_model per layer and token forward (QKᵀ and AV, half of T×T) and twice that
backward; the output head counts 4·V·d on completion tokens only (that is all either side needs). The same
count is used for TRL, so its extra per-step reference forward shows as lower MFU, not as more useful work.
Goal (issue #16): ≥ 40% MFU on an H100-class GPU at seq 1024, ≥ 1.5× TRL's tokens/s at ≤ its memory.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

# 0.45B parameters: Llama blocks of a Qwen2.5-0.5B-like size, tied embeddings, 32k vocabulary
CONFIG = dict(hidden_size=1280, intermediate_size=3456, num_hidden_layers=24, num_attention_heads=20,
              num_key_value_heads=4, vocab_size=32_000, max_position_embeddings=4096, tie_word_embeddings=True)
LR, LORA_R, LORA_ALPHA, BETA = 1e-4, 16, 32, 0.1
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
PEAK_TFLOPS = {"H200": 989.0, "H100 SXM": 989.0, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H100": 756.0,
               "A100": 312.0, "L40S": 362.0, "L4": 121.0, "RTX 4090": 165.0, "A10": 125.0}
WORDS = ("the quick brown fox jumps over the lazy dog a short answer is often the best answer explain the reason "
         "in detail step by step with examples and careful thought about every case").split()  # the tokenizer's corpus


def build_model(folder: Path) -> Path:
    """The tiny model's tokenizer + a random ~0.5B Llama from CONFIG, saved in bf16."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from workbench.training.tiny_model import build_tiny_model

    build_tiny_model(folder)
    torch.manual_seed(0)
    cfg = LlamaConfig(**CONFIG, bos_token_id=None, eos_token_id=0, pad_token_id=1)
    LlamaForCausalLM(cfg).to(torch.bfloat16).save_pretrained(folder, safe_serialization=True)
    return folder


def text(n_words: int, seed: int) -> str:
    return " ".join(WORDS[(seed * 7 + i * 3) % len(WORDS)] for i in range(n_words))


def rows(n: int, seq: int) -> list[dict]:
    """Pairs whose prompt + response fill about `seq` tokens (prompt ~1/4, responses ~3/4, slightly varied)."""
    out = []
    for i in range(n):
        p, c, r = seq // 4, (3 * seq) // 4 - 8 * (i % 3), (3 * seq) // 4 - 8 * ((i + 1) % 3)
        out.append({"pair_id": i + 1, "objective": "helpful", "prompt": text(p, i), "chosen": text(c, i + 1),
                    "rejected": text(r, i + 2), "strength": 2, "split": "train"})
    return out


def pair_shapes(model: str, data_rows: list[dict], seq: int) -> tuple[float, float]:
    """(mean non-padding tokens of a pair as the policy sees them, mean completion tokens of a pair)."""
    from transformers import AutoTokenizer

    from workbench.training.engine.data import PairRow, tokenize_pairs

    d = tokenize_pairs([PairRow(**r) for r in data_rows], AutoTokenizer.from_pretrained(model), max_length=seq,
                       max_prompt_length=seq // 2)
    total = sum(2 * len(d.prompt_ids[i]) + len(d.chosen_ids[i]) + len(d.rejected_ids[i]) for i in range(len(d)))
    completion = sum(len(d.chosen_ids[i]) + len(d.rejected_ids[i]) for i in range(len(d)))
    return total / len(d), completion / len(d)


def flops_per_pair(tokens: float, completion: float, seq: int) -> float:
    """Useful model FLOPs of one pair's policy forward + backward (see the module docstring)."""
    h, n_layers, v = CONFIG["hidden_size"], CONFIG["num_hidden_layers"], CONFIG["vocab_size"]
    kv = h * CONFIG["num_key_value_heads"] // CONFIG["num_attention_heads"]
    body = n_layers * (2 * h * h + 2 * h * kv + 3 * h * CONFIG["intermediate_size"])
    attention = n_layers * 4 * (seq / 2) * h  # per token forward: QKᵀ + AV over half the context on average
    return tokens * (4 * body + 3 * attention) + completion * 4 * v * h


def run_ours(model: str, work: Path, a: argparse.Namespace) -> dict:
    from workbench.core.run_config import RunConfig
    from workbench.training.engine.trainer import Trainer

    run_dir = work / "ours"
    run_dir.mkdir(parents=True)
    n = a.warmup + a.steps
    (run_dir / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows(a.batch_size * n, a.seq)))
    cfg = RunConfig(model=model, device="cuda", batch_size=a.batch_size, max_steps=n, learning_rate=LR,
                    lora_r=LORA_R, lora_alpha=LORA_ALPHA, target_modules=TARGETS, beta=BETA, max_length=a.seq,
                    max_prompt_length=a.seq // 2, eval_every=0, checkpoint_every=0, eval_fraction=0.0,
                    precision="bf16", gradient_checkpointing=a.gradient_checkpointing, active_candidates=0)
    events: list = []
    trainer = Trainer(cfg, run_dir, emit=lambda ty, **d: events.append((ty, d)))
    trainer.save = lambda: ""  # type: ignore[method-assign]
    trainer.prepare()
    trainer.run()
    times = [d["values"]["step_time_s"] for ty, d in events if ty == "metric" and "loss" in d["values"]]
    return {"step_times": times[a.warmup:]}


def run_trl(model: str, work: Path, a: argparse.Namespace) -> dict:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    n = a.warmup + a.steps
    tok = AutoTokenizer.from_pretrained(model)
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}],
                             "chosen": [{"role": "assistant", "content": r["chosen"]}],
                             "rejected": [{"role": "assistant", "content": r["rejected"]}]}
                            for r in rows(a.batch_size * n, a.seq)])
    times: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            times.append(time.perf_counter())

        def on_step_end(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            import torch

            torch.cuda.synchronize()
            times[-1] = time.perf_counter() - times[-1]

    args = DPOConfig(output_dir=str(work / "trl"), per_device_train_batch_size=a.batch_size, max_steps=n,
                     learning_rate=LR, weight_decay=0.0, max_grad_norm=1.0, beta=BETA, max_length=a.seq,
                     logging_steps=10_000, save_strategy="no", report_to=[], bf16=True,
                     gradient_checkpointing=a.gradient_checkpointing, dataloader_num_workers=0, seed=0)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model, dtype="bfloat16",
                                                                    attn_implementation="sdpa"),
                         args=args, train_dataset=ds, processing_class=tok, callbacks=[StepTimer()],
                         peft_config=LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0,
                                                task_type="CAUSAL_LM", target_modules=TARGETS))
    trainer.train()
    return {"step_times": times[a.warmup:]}


def one_side(a: argparse.Namespace) -> None:
    import torch

    torch.manual_seed(0)
    torch.cuda.reset_peak_memory_stats()
    with tempfile.TemporaryDirectory(prefix=f"bench-gpu-{a.only}-") as tmp:
        result = (run_ours if a.only == "ours" else run_trl)(a.model, Path(tmp), a)
    result["peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    print("RESULT " + json.dumps(result), flush=True)


def peak_flops(name: str, override: float) -> float:
    if override:
        return override * 1e12
    for key, tflops in PEAK_TFLOPS.items():  # most specific names first
        if key in name:
            return tflops * 1e12
    raise SystemExit(f"unknown peak bf16 FLOP/s for {name!r}: pass --peak-tflops (dense, without sparsity)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--gradient-checkpointing", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="the GPU's dense bf16 peak (default: by name)")
    ap.add_argument("--only", choices=["ours", "trl"], help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    a = ap.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("bench_gpu: no CUDA GPU here; run it on a machine with one (nothing was measured)")
        return 0
    if a.only:
        one_side(a)
        return 0
    name = torch.cuda.get_device_name()
    peak = peak_flops(name, a.peak_tflops)
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        model = str(build_model(Path(tmp) / "model"))
        n_pairs = a.batch_size * (a.warmup + a.steps)
        tokens, completion = pair_shapes(model, rows(n_pairs, a.seq), a.seq)
        flops = flops_per_pair(tokens, completion, a.seq)
        results = {}
        for side in ("ours", "trl"):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--only", side, "--model", model, "--seq",
                   str(a.seq), "--batch-size", str(a.batch_size), "--steps", str(a.steps), "--warmup",
                   str(a.warmup)] + (["--gradient-checkpointing"] if a.gradient_checkpointing else [])
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
            if done.returncode != 0 or line is None:
                print(f"{side} failed:\n{done.stderr[-3000:]}")
                return 1
            results[side] = json.loads(line[7:])
    print(f"{name}, seq {a.seq}, batch {a.batch_size} pairs, bf16 autocast, SDPA, LoRA r={LORA_R} on {len(TARGETS)} "
          f"projections, {tokens:.0f} tokens/pair, {flops / tokens / 1e9:.2f} GFLOP/token, peak {peak / 1e12:.0f} TFLOP/s")
    print(f"{'trainer':<8} {'step s':>8} {'tokens/s':>10} {'MFU':>7} {'peak MiB':>9}")
    for side, r in results.items():
        step = statistics.median(r["step_times"])
        tps = a.batch_size * tokens / step
        mfu = a.batch_size * flops / step / peak
        print(f"{side:<8} {step:>8.3f} {tps:>10.0f} {100 * mfu:>6.1f}% {r['peak_mb']:>9.0f}")
    ours, trl = (statistics.median(results[s]["step_times"]) for s in ("ours", "trl"))
    print(f"ours/TRL tokens/s: {trl / ours:.2f}x, memory: {results['ours']['peak_mb'] / results['trl']['peak_mb']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
