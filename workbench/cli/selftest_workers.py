"""The self-test's worker checks: what the installed program runs in its worker processes, end to end.

- MAH-DPO training: the project's pairs of two objectives become a run folder (store.run_prep) and
  `workbench worker train` trains the LoRA trunk and one output-head delta per objective for 2 steps; the events
  are ingested back into the project and the last checkpoint must hold the adapter and the heads.
- Mixture evaluation: `workbench worker eval` (cli.eval_cmd.evaluate_run, as `workbench eval --grid 2`) rates the
  two extreme mixtures of the heads on held-out pairs and generations, and the points are stored.
- Inference: one `workbench worker infer` process loads the base model and generates greedily, loads the
  checkpoint with its heads and generates at two steering weights, then loads the tiny GGUF file that the torch
  check wrote (training.tiny_gguf) and must generate exactly the tokens the safetensors folder generated.

Each returns a `Check` (selftest_report); a failure shows the worker's last stderr lines and what to do.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.cli.selftest_report import Check, log_tail, stderr_to

TRAIN_STEPS = 2
CHILD_TIMEOUT_S = 240.0
OBJECTIVES = ("brevity", "detail")
GREEDY_TOKENS = 8
PROMPT = "Tell me about the sea."
TRAIN_NAME = f"{TRAIN_STEPS}-step MAH-DPO training (worker train)"
EVAL_NAME = "mixture evaluation (worker eval)"
INFER_NAME = "inference with heads (worker infer)"
GGUF_NAME = "GGUF model (worker infer)"
REPORT_ADVICE = "this part of the application does not work in this build: run the self-test again and report " \
                "its output"


def run_config(model_dir: Path):
    """A 2-step MAH-DPO run of the tiny model: LoRA trunk + a rank-4 head per objective, rated on held-out pairs
    and by the built-in length scorer on generations."""
    from workbench.core.run_config import RunConfig

    return RunConfig(name="self-test", model=str(model_dir), device="cpu", method="mah_dpo",
                     objectives=list(OBJECTIVES), head_rank=4, lora_r=8, lora_alpha=16, max_steps=TRAIN_STEPS,
                     batch_size=2, learning_rate=1e-2, max_length=64, max_prompt_length=32, eval_fraction=0.25,
                     eval_every=0, checkpoint_every=TRAIN_STEPS, warmup_ratio=0.0, scheduler="constant",
                     eval_scorers={o: "length_tokens" for o in OBJECTIVES}, eval_prompts=2, eval_max_new_tokens=6,
                     active_candidates=0)


def train_worker(command: list[str], project, model_dir: Path, runs_root: Path, log: Path) -> tuple[str, str, Any]:
    """Prepare a run from the project, train it with `worker train`, ingest its events.
    Returns (error, detail, run)."""
    from workbench.cli.supervise import WorkerProcess
    from workbench.store.ingest import ingest_events
    from workbench.store.run_prep import prepare_run
    from workbench.store.runs import get_run, list_checkpoints, metric_series

    with project.session() as s:
        run = prepare_run(s, run_config(model_dir), runs_root)
    with stderr_to(log):  # the child inherits fd 2: its warnings go to the log, shown only on failure
        worker = WorkerProcess(command + ["worker", "train", "--run-dir", str(run.run_dir)], run_id=str(run.id),
                               grace_s=5.0)
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    for batch in worker.messages():
        with project.session() as s:
            ingest_events(s, run.id, batch)
        if time.monotonic() > deadline and worker.ended is None:
            worker.stop()
            deadline = float("inf")
    with project.session() as s:
        final = get_run(s, run.id)
        steps, losses = metric_series(s, run.id, "loss")
        checkpoints = list_checkpoints(s, run.id)
    ended = worker.ended.data if worker.ended is not None else {}
    if final.status != "finished" or steps != list(range(1, TRAIN_STEPS + 1)):
        return f"run ended {ended.get('reason', final.status)}: {ended.get('error') or final.error or 'no error'}; " \
               f"loss logged at steps {steps}", "", run
    adapter = Path(run.run_dir) / checkpoints[-1].path if checkpoints else None  # stored relative to the run
    if adapter is None or not (adapter / "adapter_config.json").exists():
        return "the run finished without a loadable checkpoint", "", run
    if not (adapter / "heads.json").exists():
        return f"checkpoint {checkpoints[-1].path} has no objective heads (heads.json)", "", run
    return "", f"{TRAIN_STEPS} steps, loss {losses[0]:.4f} -> {losses[-1]:.4f}, checkpoint step " \
               f"{checkpoints[-1].step} with heads {', '.join(OBJECTIVES)}", run


def check_training(command: list[str], project, model_dir: Path, tmp: Path) -> tuple[Check, Any]:
    """(the check, the trained run or None)."""
    log = tmp / "worker-stderr.log"
    t0 = time.perf_counter()
    run = None
    try:
        error, detail, run = train_worker(command, project, model_dir, tmp / "runs", log)
    except Exception as exc:  # noqa: BLE001 - the report names any failure instead of a traceback
        error, detail = f"{type(exc).__name__}: {exc}", ""
    seconds = time.perf_counter() - t0
    if error:
        stderr = log_tail(log)
        return Check(TRAIN_NAME, False, seconds, error + (f"\n{stderr}" if stderr else ""), REPORT_ADVICE), None
    return Check(TRAIN_NAME, True, seconds, detail), run


def _fmt_weights(weights: dict[str, float] | None) -> str:
    return "/".join(f"{weights.get(o, 0):g}" for o in OBJECTIVES) if weights else "as trained"


def check_mixtures(project, run, tmp: Path) -> Check:
    """The two extreme mixtures of the heads rated by `worker eval`; every value must be a finite number."""
    from workbench.cli.eval_cmd import evaluate_run

    log = tmp / "eval-stderr.log"
    t0 = time.perf_counter()
    try:
        with stderr_to(log):
            _, points = evaluate_run(project, run.id, grid=2, progress=lambda _line: None)
    except Exception as exc:  # noqa: BLE001 - the report names any failure instead of a traceback
        stderr = log_tail(log)
        return Check(EVAL_NAME, False, time.perf_counter() - t0,
                     f"{type(exc).__name__}: {exc}" + (f"\n{stderr}" if stderr else ""), REPORT_ADVICE)
    seconds = time.perf_counter() - t0
    wanted = [f"{o}/{m}" for o in OBJECTIVES for m in ("margin", "accuracy", "score")] + ["kl", "length"]
    base = [p for p in points if p.base]  # a grid is a front: the untrained base model is one of its points
    points = [p for p in points if not p.base]
    problems = [f"mixture {_fmt_weights(p.weights)}: {key} is {p.values.get(key)}" for p in points for key in wanted
                if not isinstance(p.values.get(key), float) or not math.isfinite(p.values[key])]
    if len(points) != 2 or len(base) != 1 or problems:
        return Check(EVAL_NAME, False, seconds, f"{len(points)} mixtures and {len(base)} base points evaluated "
                     "(expected 2 and 1); " + "; ".join(problems[:4]), REPORT_ADVICE)
    rows = [f"{_fmt_weights(p.weights)}: " + ", ".join(f"{o} margin {p.values[f'{o}/margin']:+.4f}" for o in OBJECTIVES)
            + f", length {p.values['length']:.1f}" for p in points]
    return Check(EVAL_NAME, True, seconds, f"{len(points)} mixtures (weights {'/'.join(OBJECTIVES)}) stored\n"
                 + "\n".join(rows))


class InferenceProcess:
    """`workbench worker infer` driven over its JSON-lines protocol (the Qt-free twin of services/inference_client)."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        from workbench.cli.supervise import WorkerProcess

        with stderr_to(log):
            self.worker = WorkerProcess(command + ["worker", "infer", "--device", "cpu"], run_id="inference",
                                        grace_s=5.0, env=env)
        self.batches: Iterator[list] = self.worker.messages()
        self.deadline = time.monotonic() + CHILD_TIMEOUT_S

    def ask(self, type_: str, request: str, **data: Any) -> dict[str, Any]:
        """Send one command and return its result's data; RuntimeError when it fails or the worker ends."""
        from workbench.core.protocol import encode

        assert self.worker.proc.stdin is not None
        self.worker.proc.stdin.write(encode(type_, "inference", request=request, **data))
        self.worker.proc.stdin.flush()
        for batch in self.batches:
            for msg in batch:
                if msg.type == "ended":
                    raise RuntimeError(f"the worker ended ({msg.data.get('reason')}): {msg.data.get('error')}")
                if msg.type == "result" and msg.data.get("request") == request:
                    result = msg.data.get("data") or {}
                    if result.get("error"):
                        raise RuntimeError(f"{type_} failed: {result['error']}")
                    return result
            if time.monotonic() > self.deadline:
                raise RuntimeError(f"no answer to {type_} within {CHILD_TIMEOUT_S:.0f} s")
        raise RuntimeError(f"the worker exited before answering {type_}")

    def close(self) -> None:
        self.worker.stop()
        for _ in self.batches:  # drain until its stdout closes
            pass


def greedy(process: InferenceProcess, request: str) -> dict[str, Any]:
    return process.ask("generate", request, prompt=PROMPT, temperature=0, max_new_tokens=GREEDY_TOKENS, seed=0)


def check_inference(command: list[str], model_dir: Path, gguf: Path, checkpoint: Path, tmp: Path) -> list[Check]:
    """[inference check, GGUF check] from one inference worker (module docstring)."""
    log = tmp / "infer-stderr.log"
    env = dict(os.environ, WORKBENCH_CACHE_DIR=str(tmp / "cache"))  # the converted GGUF stays in tmp
    t0 = time.perf_counter()
    process = None
    step = "starting the worker"
    try:
        process = InferenceProcess(command, env, log)
        step = "loading the base model"
        process.ask("load", "base", model=str(model_dir), device="cpu")
        base = greedy(process, "base-greedy")
        step = "loading the checkpoint with its heads"
        info = process.ask("load", "mah", model=str(model_dir), adapter=str(checkpoint), device="cpu")
        if list(info.get("objectives") or []) != list(OBJECTIVES):
            raise RuntimeError(f"the checkpoint loaded with objectives {info.get('objectives')}, expected "
                               f"{list(OBJECTIVES)}")
        mixed = []
        for k, objective in enumerate(OBJECTIVES):
            process.ask("set_weights", f"w{k}", weights={o: float(o == objective) for o in OBJECTIVES})
            mixed.append(greedy(process, f"mix{k}"))
        if any(m["tokens"] < 1 for m in mixed):
            raise RuntimeError("a mixture generated no token")
        infer = Check(INFER_NAME, True, time.perf_counter() - t0,
                      f"base and 2 mixtures of the heads generated {', '.join(str(m['tokens']) for m in [base] + mixed)}"
                      f" tokens ({mixed[-1].get('tokens_per_s', 0):.0f} tokens/s)")
    except Exception as exc:  # noqa: BLE001 - the report names any failure instead of a traceback
        stderr = log_tail(log)
        if process is not None:
            process.close()
        seconds = time.perf_counter() - t0
        failed = Check(INFER_NAME, False, seconds, f"{step}: {exc}" + (f"\n{stderr}" if stderr else ""), REPORT_ADVICE)
        return [failed, Check(GGUF_NAME, False, 0.0, "not run: it needs the inference worker",
                              "fix the failures above first")]
    t1 = time.perf_counter()
    try:
        loaded = process.ask("load", "gguf", model=str(gguf), device="cpu")
        from_gguf = greedy(process, "gguf-greedy")
        same = (from_gguf["text"], from_gguf["tokens"]) == (base["text"], base["tokens"])
        detail = f"{gguf.name} ({gguf.stat().st_size / 1024:.0f} KB, {loaded.get('parameters', 0):,} parameters): " \
                 f"{from_gguf['tokens']} greedy tokens " + ("identical to" if same else "DIFFER from") \
                 + " the safetensors model's"
        gguf_check = Check(GGUF_NAME, same, time.perf_counter() - t1, detail if same else
                           f"{detail}\n  gguf: {from_gguf['text']!r}\n  safetensors: {base['text']!r}", REPORT_ADVICE)
    except Exception as exc:  # noqa: BLE001
        stderr = log_tail(log)
        gguf_check = Check(GGUF_NAME, False, time.perf_counter() - t1, f"{exc}" + (f"\n{stderr}" if stderr else ""),
                           "GGUF files cannot be loaded in this build: reinstall the application; if it persists, "
                           "report this output")
    finally:
        process.close()
    return [infer, gguf_check]
