"""`workbench --self-test`: check that this installation can show its window, keep a project, import torch and train.

Why a self-test: an installer can be broken in ways no unit test of the source sees — a Qt platform plugin or a
system library missing on the user's machine, the Alembic migrations not shipped as files, torch unable to load
its libraries, the frozen executable unable to re-execute itself as a worker. Each check runs the real code path
of the installed program and, when it fails, says what to do.

Checks (each ✓/✗ with its time):
1. Qt: the real GUI (`workbench` with WORKBENCH_EXIT_AFTER_SHOW=1) in a child process shows its main window on the
   chosen platform plugin (offscreen when there is no display), and has not imported torch. A child process,
   because Qt aborts the whole process when a platform plugin cannot load.
2. SQLite: a project file created at the first schema revision is opened, which migrates it to the newest (after a
   backup), through workbench.store (WAL, foreign keys); labelled pairs of two objectives are stored.
3. torch: a child process of the same program imports torch, builds the tiny offline model and writes it as a tiny
   GGUF file (the GUI process never imports torch, DESIGN.md §1); reports the torch build and whether CUDA is usable.
4.-7. The worker processes (selftest_workers): 2-step MAH-DPO training with objective heads, a mixture evaluation,
   the inference worker generating with the heads, and the GGUF file loaded and generating the same tokens.

Exit code 0 when every check passed, 1 otherwise. `--probe-torch DIR` is the internal child mode of check 3.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from workbench import APP_NAME, __version__
from workbench.cli.launch import self_command
from workbench.cli.selftest_report import Check, format_check, tail
from workbench.cli.selftest_workers import (CHILD_TIMEOUT_S, EVAL_NAME, GGUF_NAME, INFER_NAME, OBJECTIVES, TRAIN_NAME,
                                            check_inference, check_mixtures, check_training)

__all__ = ["Check", "check_training", "format_check", "main", "self_command"]
_PAIRS = [("the sea", "It is wide.", "The sea is a very large body of salty water that covers most of the planet."),
          ("Paris", "A city.", "Paris is the capital of France, a large city on the river Seine with many museums."),
          ("eggs", "Boil them.", "Put the egg in boiling water for about eight minutes, then cool it in cold water."),
          ("numbers", "One, two.", "Numbers count things: one two three four five six seven eight nine ten."),
          ("Python", "A language.", "Python is a programming language; def add(a, b): return a + b adds numbers."),
          ("bread", "Food.", "Bread is baked from flour, water and yeast, and people eat it every day.")]


def default_qt_platform() -> str:
    """The platform plugin to test: QT_QPA_PLATFORM if set; offscreen on Linux without a display; else native."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return os.environ["QT_QPA_PLATFORM"]
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "offscreen"
    return ""  # Qt's default for the system: windows, cocoa, xcb or wayland


class Child:
    """A child process started now and awaited later, so the slow checks (Qt, torch) overlap.

    All three streams are redirected: a windowed frozen parent has no console for a child to inherit."""

    def __init__(self, argv: list[str], env: dict[str, str], timeout: float) -> None:
        self.timeout, self.t0 = timeout, time.perf_counter()
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace")

    def wait(self) -> tuple[int | None, str, str, float]:
        """(exit code or None on timeout, stdout, stderr, seconds since start)."""
        try:
            out, err = self.proc.communicate(timeout=max(0.0, self.timeout - (time.perf_counter() - self.t0)))
            code: int | None = self.proc.returncode
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            code = None
        return code, out, err, time.perf_counter() - self.t0


def _last_json(stdout: str) -> dict | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


QT_NAME = "Qt window ({} platform)"
QT_ADVICE = ("the Qt platform plugin or a system library it needs is missing: reinstall the application; on Linux "
             "install libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-keysyms1 libegl1, or try "
             "QT_QPA_PLATFORM=wayland (or offscreen to test without a display)")


def start_qt(command: list[str], tmp: Path, platform: str) -> Child:
    """Start the real GUI in a child process that prints one JSON line once its window is shown (app.py)."""
    env = dict(os.environ, WORKBENCH_EXIT_AFTER_SHOW="1", WORKBENCH_SETTINGS=str(tmp / "settings.ini"))
    if platform:
        env["QT_QPA_PLATFORM"] = platform
    return Child(command, env, timeout=120.0)


def broken_panels(info: dict, stderr: str) -> list[str]:
    """Panels the main window replaced by an error tab: the app's report when it lists them, else its log lines
    (ui/main_window.py logs "panel <Class> failed to load"; the window still opens, so the exit code is 0)."""
    listed = info.get("broken_panels")
    if isinstance(listed, list):
        return [str(p) for p in listed]
    return sorted(set(re.findall(r"panel (\w+) failed to load", stderr)))


def finish_qt(child: Child, platform: str) -> Check:
    name = QT_NAME.format(platform or "native")
    code, out, err, seconds = child.wait()
    if code is None:
        return Check(name, False, seconds, f"the window did not appear within {child.timeout:.0f} s", QT_ADVICE)
    info = _last_json(out)
    if code != 0 or info is None:
        why = tail(err) or f"exit code {code}, no report"
        return Check(name, False, seconds, f"the application did not start:\n{why}", QT_ADVICE)
    broken = broken_panels(info, err)
    if broken:
        errors = [line.strip() for line in err.splitlines() if re.match(r"\s*\w+(Error|Exception): ", line)]
        return Check(name, False, seconds, f"panels that failed to load: {', '.join(broken)}"
                     + (f"\n{errors[-1]}" if errors else ""),
                     "a module is missing from this build: reinstall the application; if it persists, report "
                     "this output")
    if info.get("torch_imported"):
        return Check(name, False, seconds, "the GUI process imported torch (it must only run in workers)",
                     "this build is broken: report it with the output of --self-test")
    panels = [p for p in info.get("panels", []) if p]
    return Check(name, True, seconds, f"main window shown after {info.get('shown_s', 0):.1f} s, panels: "
                 f"{', '.join(panels) or 'none'}; torch not loaded in the GUI")


def base_revision() -> str:
    """The first schema revision: the self-test migrates a file made at it, as a user's oldest project would be."""
    from alembic.script import ScriptDirectory

    from workbench.store.db import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_base()


def make_project(folder: Path):
    """A project file created at the first schema revision, opened (which migrates it to the newest after a backup,
    as for a user's old project), and filled with labelled pairs of two objectives through workbench.store."""
    from workbench.core.entities import PreferenceRecord
    from workbench.store.db import backup_path, create_project, current_revision, head_revision, open_project
    from workbench.store.imports import import_records

    path = folder / "self-test.sqlite"
    first = base_revision()
    create_project(path, revision=first).close()
    project = open_project(path)  # migrates first -> head, keeping a backup of the old file
    with project.session() as s:  # brevity prefers the short answer, detail the long one: two objectives conflict
        report = import_records(s, [PreferenceRecord(prompt=f"Tell me about {topic}.", chosen=short, rejected=long,
                                                     objective=OBJECTIVES[0], line=i + 1)
                                    for i, (topic, short, long) in enumerate(_PAIRS)]
                                + [PreferenceRecord(prompt=f"Tell me about {topic}.", chosen=long, rejected=short,
                                                    objective=OBJECTIVES[1], line=len(_PAIRS) + i + 1)
                                   for i, (topic, short, long) in enumerate(_PAIRS)],
                                default_objective=OBJECTIVES[0], source="self-test")
    project.close()
    project = open_project(path)  # reopening at head: nothing to migrate, the revision checks run again
    with project.engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        foreign_keys = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    revision, head = current_revision(project.engine), head_revision()
    problems = []
    if str(journal).lower() != "wal":
        problems.append(f"journal mode is {journal}, not wal")
    if foreign_keys != 1:
        problems.append("foreign keys are off")
    if revision != head:
        problems.append(f"schema {revision} after migrating, expected {head}")
    if not backup_path(path, first).is_file():
        problems.append(f"no backup of the schema {first} file was kept before migrating")
    if report.labels_added != 2 * len(_PAIRS):
        problems.append(f"{report.labels_added} labels stored, expected {2 * len(_PAIRS)}")
    return project, problems, f"schema {first} -> {revision} (backup kept), journal {journal}, " \
                              f"{report.labels_added} labels of {len(OBJECTIVES)} objectives"


def check_sqlite(tmp: Path) -> tuple[Check, object | None]:
    name = "SQLite project (WAL, migrations)"
    advice = ("the database layer or its migrations are missing from this build: reinstall the application; "
              f"if it persists, check that {tempfile.gettempdir()} is writable")
    t0 = time.perf_counter()
    try:
        project, problems, detail = make_project(tmp)
    except Exception as exc:  # noqa: BLE001 - the report names any failure instead of a traceback
        return Check(name, False, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}", advice), None
    seconds = time.perf_counter() - t0
    if problems:
        project.close()
        return Check(name, False, seconds, "; ".join(problems), advice), None
    return Check(name, True, seconds, detail), project


def gguf_path(model_dir: str | Path) -> Path:
    """Where the torch check writes the tiny model as a GGUF file: beside its folder."""
    return Path(model_dir).with_suffix(".gguf")


def probe_torch(model_dir: str) -> int:
    """Child mode of check 3: import torch, build the tiny model into `model_dir` and write it as a GGUF file
    (training.tiny_gguf), print one JSON line."""
    t0 = time.perf_counter()
    import torch

    from workbench.training.tiny_model import build_tiny_model

    from workbench.training.tiny_gguf import write_gguf

    imported = time.perf_counter() - t0
    build_tiny_model(model_dir)
    write_gguf(model_dir, gguf_path(model_dir))
    cuda = bool(torch.cuda.is_available())
    print(json.dumps({"torch": torch.__version__, "cuda_build": torch.version.cuda, "cuda": cuda,
                      "device": torch.cuda.get_device_name(0) if cuda else "cpu",
                      "threads": torch.get_num_threads(), "import_s": round(imported, 2)}), flush=True)
    return 0


def gpu_advice(info: dict, nvidia_smi: str | None) -> str:
    """What to tell a user whose machine has an NVIDIA GPU that this torch build cannot use (packaging/README.md)."""
    if info.get("cuda") or not nvidia_smi:
        return ""
    if info.get("cuda_build"):
        return (f"an NVIDIA GPU is present but torch (CUDA {info['cuda_build']}) cannot use it: update the NVIDIA "
                "driver to one that supports this CUDA version")
    return ("an NVIDIA GPU is present but this is the CPU edition: install the CUDA edition of Alignment Workbench "
            "to train on the GPU (training on the CPU works, slowly)")


TORCH_NAME = "torch in a worker process"
TORCH_ADVICE = "torch cannot load in this build: reinstall the application (the lines above name what is missing)"


def start_torch(command: list[str], model_dir: Path) -> Child:
    return Child(command + ["--self-test", "--probe-torch", str(model_dir)], dict(os.environ), CHILD_TIMEOUT_S)


def finish_torch(child: Child) -> tuple[Check, dict | None]:
    code, out, err, seconds = child.wait()
    if code is None:
        return Check(TORCH_NAME, False, seconds, f"no answer within {child.timeout:.0f} s", TORCH_ADVICE), None
    info = _last_json(out)
    if code != 0 or info is None:
        return Check(TORCH_NAME, False, seconds, tail(err) or f"exit code {code}", TORCH_ADVICE), None
    where = f"CUDA on {info['device']}" if info["cuda"] else "CPU only"
    build = f"CUDA {info['cuda_build']} build" if info.get("cuda_build") else "CPU build"
    detail = f"torch {info['torch']} ({build}), {where}, {info['threads']} threads, import {info['import_s']:.1f} s"
    hint = gpu_advice(info, shutil.which("nvidia-smi"))
    return Check(TORCH_NAME, True, seconds, detail + (f"\n  note: {hint}" if hint else "")), info


def run_checks(command: list[str], tmp: Path, qt_platform: str, *,
               report: Callable[[Check], None] = lambda c: None) -> list[Check]:
    """Run the checks in order; a check whose prerequisite failed is reported as not run."""
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        report(check)

    def skipped(names: list[str], needs: str) -> list[Check]:
        for name in names:
            add(Check(name, False, 0.0, f"not run: it needs the {needs} to pass", "fix the failures above first"))
        return checks

    qt = start_qt(command, tmp, qt_platform)  # the two slow children run while the SQLite check does
    model_dir = tmp / "tiny-model"
    torch_child = start_torch(command, model_dir)
    sqlite, project = check_sqlite(tmp)
    add(finish_qt(qt, qt_platform))
    add(sqlite)
    torch_check, info = finish_torch(torch_child)
    add(torch_check)
    if project is None or info is None:
        return skipped([TRAIN_NAME, EVAL_NAME, INFER_NAME, GGUF_NAME], "SQLite and torch checks")
    try:
        training, run = check_training(command, project, model_dir, tmp)
        add(training)
        if run is None:
            return skipped([EVAL_NAME, INFER_NAME, GGUF_NAME], "training check")
        add(check_mixtures(project, run, tmp))
        from workbench.store.runs import list_checkpoints

        with project.session() as s:
            checkpoint = Path(run.run_dir) / list_checkpoints(s, run.id)[-1].path
    finally:
        project.close()
    for check in check_inference(command, model_dir, gguf_path(model_dir), checkpoint, tmp):
        add(check)
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="workbench --self-test", description="check this installation")
    parser.add_argument("--qt-platform", default=None,
                        help="Qt platform plugin to test (default: offscreen without a display, else native)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (project, run, logs)")
    parser.add_argument("--probe-torch", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe_torch:
        return probe_torch(args.probe_torch)
    platform = default_qt_platform() if args.qt_platform is None else args.qt_platform
    kind = f"frozen build {sys.executable}" if getattr(sys, "frozen", False) else f"source, Python {sys.executable}"
    print(f"{APP_NAME} {__version__} self-test ({kind})", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="workbench-selftest-"))
    t0 = time.perf_counter()
    try:
        checks = run_checks(self_command(), tmp, platform, report=lambda c: print(format_check(c), flush=True))
    finally:
        if args.keep:
            print(f"files kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    failed = [c for c in checks if not c.ok]
    total = time.perf_counter() - t0
    if failed:
        print(f"{len(failed)} of {len(checks)} checks failed ({total:.1f} s)")
        return 1
    print(f"all {len(checks)} checks passed ({total:.1f} s)")
    return 0
