"""`workbench worker train --run-dir D [--resume]` and `workbench worker infer ...` (internal commands).

Nothing here imports Qt or torch at module level: the worker starts, moves its stdout aside, and only then
imports the heavy libraries (DESIGN.md §2)."""

from __future__ import annotations

import argparse
import importlib.util


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", required=True)
    train = sub.add_parser("train", help="run one training job from a run folder")
    train.add_argument("--run-dir", required=True, help="the run folder (config.json + data.jsonl)")
    train.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    infer = sub.add_parser("infer", help="run the long-lived inference worker")
    infer.add_argument("rest", nargs=argparse.REMAINDER, help="arguments of the inference worker")


def run(args: argparse.Namespace) -> int:
    if args.kind == "train":
        from workbench.training.worker import main

        return main(args.run_dir, resume=args.resume)
    if importlib.util.find_spec("workbench.inference.worker") is None:
        print("workbench: the inference worker is not available in this build")
        return 2
    from workbench.inference import worker as inference_worker

    return int(inference_worker.main(args.rest) or 0)
