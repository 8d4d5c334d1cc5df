"""`workbench --self-test`: check that this installation can show its window, keep a project, import torch and train.

Why a self-test: an installer can be broken in ways no unit test of the source sees — a Qt platform plugin or a
system library missing on the user's machine, the Alembic migrations not shipped as files, torch unable to load
its libraries, the frozen executable unable to re-execute itself as a worker. Each check runs the real code path
of the installed program and, when it fails, says what to do.

Checks (each ✓/✗ with its time):
1. Qt: the real GUI (`workbench` with WORKBENCH_EXIT_AFTER_SHOW=1) in a child process shows its main window on the
   chosen platform plugin (offscreen when there is no display), and has not imported torch. A child process,
   because Qt aborts the whole process when a platform plugin cannot load.
2. SQLite: create a project in a temporary folder through workbench.store (WAL, foreign keys, every migration),
   store labelled pairs, close and reopen it.
3. torch: a child process of the same program imports torch and builds the tiny offline model (the GUI process
   never imports torch, DESIGN.md §1); reports the torch build and whether CUDA is usable.
4. Training: the project's pairs go into a run folder (workbench.store.run_prep) and `workbench worker train`
   trains the tiny model for 2 steps over the JSON-lines protocol; its events are ingested back into the project.

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from workbench import APP_NAME, __version__
from workbench.cli.launch import self_command

TRAIN_STEPS = 2
CHILD_TIMEOUT_S = 240.0
_PAIRS = [("the sea", "It is wide.", "The sea is a very large body of salty water that covers most of the planet."),
          ("Paris", "A city.", "Paris is the capital of France, a large city on the river Seine with many museums."),
          ("eggs", "Boil them.", "Put the egg in boiling water for about eight minutes, then cool it in cold water."),
          ("numbers", "One, two.", "Numbers count things: one two three four five six seven eight nine ten."),
          ("Python", "A language.", "Python is a programming language; def add(a, b): return a + b adds numbers."),
          ("bread", "Food.", "Bread is baked from flour, water and yeast, and people eat it every day.")]


@dataclass
class Check:
    """One line of the report: `advice` says what to do when `ok` is False."""

    name: str
    ok: bool
    seconds: float
    detail: str
    advice: str = ""


def default_qt_platform() -> str:
    """The platform plugin to test: QT_QPA_PLATFORM if set; offscreen on Linux without a display; else native."""
    if os.environ.get("QT_QPA_PLATFORM"):
        return os.environ["QT_QPA_PLATFORM"]
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "offscreen"
    return ""  # Qt's default for the system: windows, cocoa, xcb or wayland


def _tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


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
        why = _tail(err) or f"exit code {code}, no report"
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


def make_project(folder: Path):
    """A new project holding one objective and labelled pairs, created and reopened through workbench.store."""
    from workbench.core.entities import PreferenceRecord
    from workbench.store.db import create_project, current_revision, head_revision, open_project
    from workbench.store.imports import import_records

    path = folder / "self-test.sqlite"
    project = create_project(path)
    records = [PreferenceRecord(prompt=f"Tell me about {topic}.", chosen=short, rejected=long, line=i + 1)
               for i, (topic, short, long) in enumerate(_PAIRS)]
    with project.session() as s:
        report = import_records(s, records, default_objective="brevity", source="self-test")
    project.close()
    project = open_project(path)  # reopening runs the upgrade path (nothing to do) and the revision checks
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
    if report.labels_added != len(_PAIRS):
        problems.append(f"{report.labels_added} labels stored, expected {len(_PAIRS)}")
    return project, problems, f"schema {revision}, journal {journal}, {report.labels_added} labels"


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


def probe_torch(model_dir: str) -> int:
    """Child mode of check 3: import torch, build the tiny model into `model_dir`, print one JSON line."""
    t0 = time.perf_counter()
    import torch

    from workbench.training.tiny_model import build_tiny_model

    imported = time.perf_counter() - t0
    build_tiny_model(model_dir)
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
        return Check(TORCH_NAME, False, seconds, _tail(err) or f"exit code {code}", TORCH_ADVICE), None
    where = f"CUDA on {info['device']}" if info["cuda"] else "CPU only"
    build = f"CUDA {info['cuda_build']} build" if info.get("cuda_build") else "CPU build"
    detail = f"torch {info['torch']} ({build}), {where}, {info['threads']} threads, import {info['import_s']:.1f} s"
    hint = gpu_advice(info, shutil.which("nvidia-smi"))
    return Check(TORCH_NAME, True, seconds, detail + (f"\n  note: {hint}" if hint else "")), info


def _prepare_run(project, model_dir: Path, runs_root: Path):
    from workbench.core.run_config import RunConfig
    from workbench.store.run_prep import prepare_run

    cfg = RunConfig(name="self-test", model=str(model_dir), device="cpu", max_steps=TRAIN_STEPS, batch_size=2,
                    learning_rate=1e-2, max_length=64, max_prompt_length=32, eval_fraction=0.0, eval_every=0,
                    checkpoint_every=TRAIN_STEPS, objectives=["brevity"], warmup_ratio=0.0)
    with project.session() as s:
        return prepare_run(s, cfg, runs_root)


def train_worker(command: list[str], project, model_dir: Path, runs_root: Path, log: Path) -> tuple[str, str]:
    """Prepare a run from the project, train it with `worker train`, ingest its events. Returns (error, detail)."""
    from workbench.cli.supervise import WorkerProcess
    from workbench.store.ingest import ingest_events
    from workbench.store.runs import get_run, list_checkpoints, metric_series

    run = _prepare_run(project, model_dir, runs_root)
    with _stderr_to(log):  # the child inherits fd 2: its warnings go to the log, shown only on failure
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
               f"loss logged at steps {steps}", ""
    adapter = Path(run.run_dir) / checkpoints[-1].path if checkpoints else None  # stored relative to the run
    if adapter is None or not (adapter / "adapter_config.json").exists():
        return "the run finished without a loadable checkpoint", ""
    return "", f"{TRAIN_STEPS} steps, loss {losses[0]:.4f} -> {losses[-1]:.4f}, checkpoint step {checkpoints[-1].step}"


@contextmanager
def _stderr_to(path: Path) -> Iterator[None]:
    """Point file descriptor 2 at `path` while a child process is started (it inherits fd 2), then restore it."""
    try:
        if sys.stderr is not None:
            sys.stderr.flush()
        saved = os.dup(2)
    except OSError:  # a windowed Windows process may have no fd 2: the child then gets none either
        yield
        return
    try:
        with open(path, "ab") as fh:
            os.dup2(fh.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def check_training(command: list[str], project, model_dir: Path, tmp: Path) -> Check:
    name = f"{TRAIN_STEPS}-step training (workbench worker train)"
    advice = "training does not work in this build: run the self-test again and report its output"
    log = tmp / "worker-stderr.log"
    t0 = time.perf_counter()
    try:
        error, detail = train_worker(command, project, model_dir, tmp / "runs", log)
    except Exception as exc:  # noqa: BLE001 - the report names any failure instead of a traceback
        error, detail = f"{type(exc).__name__}: {exc}", ""
    seconds = time.perf_counter() - t0
    if error:
        stderr = _tail(log.read_text(encoding="utf-8", errors="replace")) if log.exists() else ""
        return Check(name, False, seconds, error + (f"\n{stderr}" if stderr else ""), advice)
    return Check(name, True, seconds, detail)


def run_checks(command: list[str], tmp: Path, qt_platform: str, *,
               report: Callable[[Check], None] = lambda c: None) -> list[Check]:
    """Run the four checks in order; a check whose prerequisite failed is reported as not run."""
    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        report(check)

    qt = start_qt(command, tmp, qt_platform)  # the two slow children run while the SQLite check does
    torch_child = start_torch(command, tmp / "tiny-model")
    sqlite, project = check_sqlite(tmp)
    add(finish_qt(qt, qt_platform))
    add(sqlite)
    torch_check, info = finish_torch(torch_child)
    add(torch_check)
    if project is None or info is None:
        add(Check(f"{TRAIN_STEPS}-step training (workbench worker train)", False, 0.0,
                  "not run: it needs the SQLite and torch checks to pass", "fix the failures above first"))
        return checks
    try:
        add(check_training(command, project, tmp / "tiny-model", tmp))
    finally:
        project.close()
    return checks


def _marks() -> tuple[str, str]:
    """✓/✗ when the console can print them (a Windows code page may not), else OK/FAIL."""
    try:
        "✓✗".encode(sys.stdout.encoding or "ascii")
        return "✓", "✗"
    except (UnicodeEncodeError, LookupError):
        return "OK", "FAIL"


def format_check(check: Check) -> str:
    good, bad = _marks()
    head = f"{good if check.ok else bad} {check.name:<44} {check.seconds:6.1f} s"
    lines = [head] + [f"    {line}" for line in check.detail.splitlines()]
    if not check.ok and check.advice:
        lines.append(f"    what to do: {check.advice}")
    return "\n".join(lines)


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
