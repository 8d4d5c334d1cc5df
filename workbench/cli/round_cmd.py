"""`workbench round PROJECT ...`: on-policy rounds of generate -> label -> train -> evaluate (issue #15).

    workbench round P.sqlite --config loop.toml --rounds 3   # run (or resume) until 3 rounds are complete
    workbench round P.sqlite --step generate                 # one step of the current round (the GUI's actions)
    workbench round P.sqlite --status                        # the per-round table

loop.toml holds a [run] table (RunConfig: model, method, objectives, ...) and a [round] table (RoundSettings:
prompts_per_round, samples, policy, labeller, label_scorers, ...). A later round copies the previous round's
settings unless --config is given again. A crash or Ctrl+C anywhere leaves the round resumable: run the same
command again. Human-labelled rounds stop after `label` until people have labelled the round's pairs in the Label
panel (or `--step train` trains on what is labelled so far).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

from workbench.core.errors import RunError
from workbench.core.rounds import STEPS, next_step


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("project", help="the project .sqlite file")
    parser.add_argument("--config", help="loop settings: .toml/.json with [run] and [round] tables")
    parser.add_argument("--rounds", type=int, default=0, metavar="N",
                        help="run until N rounds are complete (default: finish the current round, or start one)")
    parser.add_argument("--step", choices=STEPS, help="run only this step of the current round")
    parser.add_argument("--status", action="store_true", help="print the per-round table and exit")
    from workbench.cli.consent import add_trust_argument

    add_trust_argument(parser)


def _num(value: float | None, width: int = 8, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(width)
    return f"{value:.{digits}f}".rjust(width)


def format_rounds(stats: Sequence, objectives: Sequence[str]) -> str:
    """One row per round: pairs, labels (human/automatic), agreement, gap and eval score per objective, the
    run's final training margin, KL to the base and response length on the fixed evaluation prompts."""
    head = ["round", "steps", "pairs", "human", "auto", "agree"]
    head += [f"gap:{o}" for o in objectives] + ["margin"] + [f"score:{o}" for o in objectives] + ["kl", "length"]
    widths = [max(8, len(h)) for h in head]
    lines = ["  ".join(h.rjust(w) for h, w in zip(head, widths))]
    for st in stats:
        steps = "".join(s[0].upper() if st.done.get(s) else "." for s in STEPS)
        cells = [str(st.number), steps, str(st.pairs), str(st.human_labels), str(st.auto_labels),
                 _num(st.agreement, 0, 2)]
        cells += [_num(st.gap.get(o), 0) for o in objectives] + [_num(st.train_margin, 0)]
        cells += [_num(st.values.get(f"{o}/score"), 0) for o in objectives]
        cells += [_num(st.values.get("kl"), 0), _num(st.values.get("length"), 0, 1)]
        lines.append("  ".join(c.rjust(w) for c, w in zip(cells, widths)))
    return "\n".join(lines)


def print_status(project) -> None:
    from workbench.cli.round_steps import _objectives
    from workbench.core.run_config import RunConfig
    from workbench.store.rounds import list_rounds, round_stats

    with project.session() as s:
        rounds = list_rounds(s)
        stats = [round_stats(s, r) for r in rounds]
    if not rounds:
        print("no rounds yet: start one with --config loop.toml")
        return
    print(format_rounds(stats, _objectives(project, RunConfig.from_dict(rounds[-1].run_config))))


def _current(project, args: argparse.Namespace):
    """The round to work on: the last one while it has steps left, else a new one (settings: --config, or the
    previous round's)."""
    from workbench.cli.round_steps import start_round
    from workbench.core.loop_config import load_loop_config
    from workbench.core.rounds import RoundSettings
    from workbench.core.run_config import RunConfig
    from workbench.store.rounds import list_rounds

    with project.session() as s:
        rounds = list_rounds(s)
    if rounds and next_step(rounds[-1].done) is not None:
        return rounds[-1]
    if args.config:
        cfg, settings = load_loop_config(args.config)
    elif rounds:
        cfg, settings = RunConfig.from_dict(rounds[-1].run_config), rounds[-1].settings
        settings = RoundSettings.from_dict(settings.to_dict())
    else:
        raise RunError("the project has no rounds yet: give --config loop.toml (a [run] and a [round] table)")
    rnd = start_round(project, cfg, settings)
    print(f"round {rnd.number}: {len(rnd.prompt_ids)} prompts, {rnd.settings.samples} samples each, "
          f"policy {rnd.settings.policy}, labeller {rnd.settings.labeller} ({rnd.folder})", flush=True)
    return rnd


def run(args: argparse.Namespace) -> int:
    from workbench.cli.round_steps import advance, run_step
    from workbench.store.db import open_project
    from workbench.store.rounds import list_rounds

    project = open_project(args.project)
    progress = lambda line: print(line, flush=True)  # noqa: E731
    try:
        if getattr(args, "trust_scorers", False):
            from workbench.cli.consent import trust_files

            trust_files(project.path)  # run folders get a copy of the same file (same hash)
        if args.status:
            print_status(project)
            return 0
        if args.step:
            with project.session() as s:
                rounds = list_rounds(s)
            if args.step != "generate" and (not rounds or next_step(rounds[-1].done) is None):
                raise RunError(f"there is no round in progress to {args.step}: start one with --step generate"
                               + (" --config loop.toml" if not rounds else ""))
            rnd = _current(project, args)
            finished = run_step(project, rnd, args.step, progress)
            print_status(project)
            return 0 if finished or args.step == "label" else 1
        while True:
            with project.session() as s:
                complete = sum(next_step(r.done) is None for r in list_rounds(s))
            if args.rounds and complete >= args.rounds:
                break
            rnd = _current(project, args)
            if not advance(project, rnd, progress):
                print(f"round {rnd.number} paused; run the command again to continue")
                break
            if not args.rounds:
                break
            args.config = None  # the next round copies this one's settings
        print_status(project)
        return 0
    finally:
        project.close()
