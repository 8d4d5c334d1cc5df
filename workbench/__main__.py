"""Command-line entry: `workbench` opens the GUI; `workbench <command> ...` runs one command.

The `worker` command is dispatched before anything imports Qt (DESIGN.md §1, §2), and only the chosen
command's module is imported, so `workbench worker ...` and `workbench stats ...` start fast.

Each command lives in `workbench/cli/<module>.py` with `add_arguments(parser)` and `run(args) -> int`.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from workbench import __version__
from workbench.core.errors import WorkbenchError

# name -> (module, one-line help). Order is the order of `workbench --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("workbench.cli.demo", "create the offline demo project, train, evaluate and show the front"),
    "init": ("workbench.cli.init", "create a new project file"),
    "import": ("workbench.cli.import_cmd", "import a preference dataset into a project"),
    "export": ("workbench.cli.export_cmd", "export labelled pairs of one objective as TRL JSONL"),
    "label-steps": ("workbench.cli.label_steps", "label steps automatically with the answer checker"),
    "synth-arith": ("workbench.cli.synth_arith", "write synthetic step-labelled arithmetic problems (offline data)"),
    "stats": ("workbench.cli.stats", "counts per objective and annotator, label coverage"),
    "train": ("workbench.cli.train", "run a training job headless and store its results"),
    "eval": ("workbench.cli.eval_cmd", "evaluate checkpoints or mixtures and print reward vectors"),
    "sweep": ("workbench.cli.sweep", "train/evaluate over a grid of objective weights and print the front"),
    "round": ("workbench.cli.round_cmd", "on-policy rounds: generate, label, train from the last round, evaluate"),
    "worker": ("workbench.cli.worker", "internal: run a training or inference worker process"),
}


def _usage() -> str:
    width = max(len(n) for n in COMMANDS)
    lines = [
        f"Alignment Workbench {__version__}",
        "",
        "usage: workbench [PROJECT.sqlite]        open the application",
        "       workbench <command> [options]     run one command (workbench <command> --help)",
        "       workbench --self-test             check this installation",
        "",
        "commands:",
    ]
    lines += [f"  {n:<{width}}  {h}" for n, (_, h) in COMMANDS.items()]
    return "\n".join(lines)


def run_command(name: str, argv: list[str]) -> int:
    module_name, help_ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            print(f"workbench: the '{name}' command is not available in this build", file=sys.stderr)
            return 2
        raise
    parser = argparse.ArgumentParser(prog=f"workbench {name}", description=help_)
    module.add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return int(module.run(args) or 0)
    except (WorkbenchError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - anything else: one line + a log file, never a traceback (issue #12)
        from workbench.cli.crash_report import report

        print(f"workbench {name}: {report(exc, getattr(args, 'project', None), [name, *argv])}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    if argv and argv[0] == "--version":
        print(f"workbench {__version__}")
        return 0
    try:
        if argv and argv[0] in COMMANDS:
            return run_command(argv[0], argv[1:])
        if argv and argv[0] == "--self-test":
            from workbench.cli.selftest import main as self_test

            return self_test(argv[1:])
        if argv and argv[0].startswith("-"):
            print(f"workbench: unknown option {argv[0]}\n\n{_usage()}", file=sys.stderr)
            return 2
        if argv and len(argv) > 1:
            print(f"workbench: unknown command {argv[0]!r} (workbench --help lists them)", file=sys.stderr)
            return 2
        from workbench.app import main as gui_main  # Qt is imported only here

        return gui_main(argv)
    except WorkbenchError as exc:
        print(f"workbench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
