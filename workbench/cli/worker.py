"""`workbench worker train --run-dir D [--resume]`, `workbench worker eval ...`, `workbench worker generate ...`,
`workbench worker infer ...` and `workbench worker tiny-model --out D` (internal commands; a frozen app runs them
as `<app> worker ...`, cli/launch.py).

Nothing here imports Qt or torch at module level: the worker starts, moves its stdout aside, and only then
imports the heavy libraries (DESIGN.md §2)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import json
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.errors import InputError

if TYPE_CHECKING:
    from workbench.training.evaluation.eval_worker import EvalJob


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", required=True)
    train = sub.add_parser("train", help="run one training job from a run folder")
    train.add_argument("--run-dir", required=True, help="the run folder (config.json + data.jsonl)")
    train.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    train.add_argument("--detached", action="store_true",
                       help="no parent process: do not read stop commands from stdin (cluster jobs)")
    evaluate = sub.add_parser("eval", help="evaluate checkpoints or mixtures of run folders (eval events)")
    evaluate.add_argument("--run-dir", required=True, action="append", dest="run_dirs",
                          help="a run folder; repeat together with --checkpoint to evaluate several runs")
    evaluate.add_argument("--checkpoint", action="append", dest="checkpoints", default=[],
                          help="checkpoint folder relative to its run folder (checkpoints/step-N); none for a soup")
    evaluate.add_argument("--weights-json", default="",
                          help='weight vectors to evaluate, e.g. \'[{"a": 1, "b": 0}, {"a": 0.5, "b": 0.5}]\'')
    evaluate.add_argument("--reward-model", default="",
                          help="checkpoint folder of a reward_model run: its reward of each generation per objective "
                               "(<objective>/reward) joins the values")
    evaluate.add_argument("--base", action="store_true",
                          help="also evaluate the untrained base model (with the first run folder's settings)")
    generate = sub.add_parser("generate", help="sample a round's answers (workbench round)")
    generate.add_argument("--round-dir", required=True, help="the round folder (generate.json)")
    tiny = sub.add_parser("tiny-model", help="build the tiny offline test model into a folder (Models panel)")
    tiny.add_argument("--out", required=True, help="the folder to write (model + tokenizer)")
    infer = sub.add_parser("infer", help="run the long-lived inference worker")
    infer.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps (a load may override)")


def parse_weights(text: str) -> list[dict[str, float]] | None:
    """The --weights-json list of {objective: weight} objects (None when empty); InputError when malformed."""
    if not text.strip():
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--weights-json is not valid JSON ({exc.msg}); give a list of {{objective: weight}}") \
            from None
    if not isinstance(value, list) or not all(isinstance(w, dict) for w in value):
        raise InputError("--weights-json must be a list of {objective: weight} objects")
    try:
        return [{str(k): float(v) for k, v in w.items()} for w in value]
    except (TypeError, ValueError):
        raise InputError("--weights-json weights must be numbers") from None


def eval_jobs(args: argparse.Namespace) -> list[EvalJob]:
    """One EvalJob per --run-dir; checkpoints pair up with run folders in order (none at all: soup runs)."""
    from workbench.training.evaluation.eval_worker import EvalJob

    if args.checkpoints and len(args.checkpoints) != len(args.run_dirs):
        raise InputError(f"give one --checkpoint per --run-dir ({len(args.run_dirs)} run folder(s), "
                         f"{len(args.checkpoints)} checkpoint(s)), or none for soup runs")
    weights = parse_weights(args.weights_json)
    checkpoints = args.checkpoints or [None] * len(args.run_dirs)
    return [EvalJob(Path(d), c or None, weights, base=bool(getattr(args, "base", False)) and i == 0,
                    reward_model=str(getattr(args, "reward_model", "") or ""))
            for i, (d, c) in enumerate(zip(args.run_dirs, checkpoints))]


def run(args: argparse.Namespace) -> int:
    code = _run(args)
    # Each worker reads stdin on a daemon thread blocked in a buffered read; a normal interpreter shutdown can then
    # abort ("could not acquire lock for <stdin> at interpreter shutdown", exit -6). Every event is already written
    # and flushed by now, so leave at once.
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    os._exit(code)


def _run(args: argparse.Namespace) -> int:
    if args.kind == "train":
        from workbench.training.worker import main

        return main(args.run_dir, resume=args.resume, detached=args.detached)
    if args.kind == "eval":
        from workbench.training.evaluation.eval_worker import main as eval_main

        return eval_main(eval_jobs(args))
    if args.kind == "generate":
        from workbench.inference.round_samples import main as generate_main

        return generate_main(args.round_dir)
    if args.kind == "tiny-model":
        from workbench.training.tiny_model import build_tiny_model

        print(build_tiny_model(args.out), flush=True)
        return 0
    if importlib.util.find_spec("workbench.inference.worker") is None:
        print("workbench: the inference worker is not available in this build")
        return 2
    from workbench.inference import worker as inference_worker

    return int(inference_worker.main(["--device", args.device]) or 0)
