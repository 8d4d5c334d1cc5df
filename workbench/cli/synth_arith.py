"""`workbench synth-arith --n 200 --errors 0.3 --out FILE`: offline step-labelled data from the synthetic
arithmetic task (core.arith_task), for tests, benchmarks and the demo.

Each problem is written as one record of a step format (default TRL stepwise JSONL) with its ground-truth step
labels (good before an injected error, bad from it on), its reference answer, and the known intermediate results
(column "intermediate_results", which `workbench label-steps --auto` checks steps against). `workbench import`
reads the file back like any other step-labelled file.
"""

from __future__ import annotations

import argparse

from workbench.core.arith_task import ArithProblem, generate_problems
from workbench.core.errors import InputError
from workbench.core.steps import StepwiseRecord
from workbench.formats.step_registry import STEP_FORMATS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=200, help="number of problems (default: 200)")
    parser.add_argument("--errors", type=float, default=0.3, metavar="RATE",
                        help="share of problems with an injected error at a random step (default: 0.3)")
    parser.add_argument("--seed", type=int, default=0, help="problem i of a seed is always the same (default: 0)")
    parser.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    parser.add_argument("--format", default="trl-stepwise", choices=list(STEP_FORMATS),
                        help="step format of the file (default: trl-stepwise)")


def to_record(problem: ArithProblem) -> StepwiseRecord:
    """The problem as a step-labelled record whose extra columns carry what the checker and benchmarks use."""
    extra = {"intermediate_results": list(problem.true_values), "first_error": problem.first_error,
             "seed": problem.seed}
    return StepwiseRecord(problem.prompt, problem.steps, problem.ratings, reference_answer=problem.reference_answer,
                          source="synth-arith", meta={"extra": extra})


def run(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise InputError(f"--n must be at least 1, not {args.n}")
    if not 0.0 <= args.errors <= 1.0:
        raise InputError(f"--errors is a share of problems between 0 and 1, not {args.errors}")
    problems = generate_problems(args.n, seed=args.seed, error_rate=args.errors)
    rows = STEP_FORMATS[args.format].write([to_record(p) for p in problems], args.out)
    wrong = sum(p.first_error >= 0 for p in problems)
    steps = sum(len(p.steps) for p in problems)
    print(f"wrote {rows} problems ({steps} steps; {wrong} with an injected error) to {args.out} as {args.format}")
    return 0
