"""`workbench --self-test` (workbench/cli/selftest.py): the whole self-test from source, and each failure path.

The end-to-end test runs exactly what the installers' smoke test runs on the frozen app (packaging/README.md).
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workbench.cli import selftest
from workbench.cli.selftest import (Check, base_revision, check_training, finish_qt, format_check, gpu_advice,
                                    make_project, run_checks, start_qt)

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(900)  # seven checks and four worker processes: ~100 s alone, several minutes on a busy machine
def test_self_test_passes_from_source_and_reports_each_check() -> None:
    # Through the real CLI entry; afterwards the self-test's own process must not hold torch (it is a GUI-side
    # process: torch only ever runs in its worker children).
    code = ("import sys; from workbench.__main__ import main; rc = main(['--self-test']); "
            "print('torch in parent:', 'torch' in sys.modules); sys.exit(rc)")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=840)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    marks = [line[0] for line in out.splitlines() if line[:1] in "✓✗"]
    assert marks == ["✓"] * 7, out
    assert "Qt window (offscreen platform)" in out and "torch not loaded in the GUI" in out
    # a file at the first revision migrated to the head revision, whatever it is now
    assert re.search(r"schema 0001 -> \w+ \(backup kept\), journal wal, 12 labels of 2 objectives", out), out
    assert "2 steps, loss 0.6931 -> " in out  # DPO loss starts at ln 2: LoRA and head deltas are zero at step 1
    assert "checkpoint step 2 with heads brevity, detail" in out
    # the two extreme mixtures, each with a finite margin per objective (the line format is the check's)
    assert len(re.findall(r"^    [01]/[01]: brevity margin [-+]\d\.\d{4}, detail margin [-+]\d\.\d{4}, length ", out,
                          re.M)) == 2, out
    # greedy decoding stops at 8 tokens or at EOS; the trained mixtures may stop earlier, never at 0 (checked)
    assert re.search(r"base and 2 mixtures of the heads generated 8, [1-8], [1-8] tokens", out), out
    assert re.search(r"tiny-model\.gguf \(\d+ KB, 115,008 parameters\): 8 greedy tokens identical", out), out
    assert "all 7 checks passed" in out
    assert out.rstrip().endswith("torch in parent: False")


def test_missing_qt_platform_plugin_fails_with_what_to_do(tmp_path: Path) -> None:
    check = finish_qt(start_qt(selftest.self_command(), tmp_path, "nosuchplugin"), "nosuchplugin")
    assert not check.ok
    assert check.name == "Qt window (nosuchplugin platform)"
    assert "nosuchplugin" in check.detail  # Qt's own message names the plugin it could not load
    assert "libxcb-cursor0" in check.advice
    assert format_check(check).splitlines()[-1].startswith("    what to do: the Qt platform plugin")


class _Finished:
    """Stands in for selftest.Child: a GUI child that already ended with this output."""

    timeout = 120.0

    def __init__(self, code: int | None, out: str, err: str) -> None:
        self.result = (code, out, err, 3.5)

    def wait(self):
        return self.result


def test_a_window_with_broken_panels_fails_the_qt_check() -> None:
    # What the first frozen build did: the window opened (exit code 0) but two panels showed an error tab.
    err = ("panel RunsPanel failed to load\nTraceback (most recent call last):\n  File \"x.py\", line 1\n"
           "ModuleNotFoundError: No module named 'PySide6.QtOpenGL'\npanel TradeoffsPanel failed to load\n")
    out = '{"shown_s": 1.5, "torch_imported": false, "panels": ["Project", "Runs", "Tradeoffs"]}\n'
    check = finish_qt(_Finished(0, out, err), "offscreen")
    assert not check.ok
    assert check.detail.splitlines() == ["panels that failed to load: RunsPanel, TradeoffsPanel",
                                         "ModuleNotFoundError: No module named 'PySide6.QtOpenGL'"]
    listed = finish_qt(_Finished(0, out.replace('"panels"', '"broken_panels": ["Label"], "panels"'), ""), "")
    assert not listed.ok and listed.detail == "panels that failed to load: Label"
    healthy = finish_qt(_Finished(0, out, "qt.qpa.fonts: some warning\n"), "offscreen")
    assert healthy.ok and healthy.detail.startswith("main window shown after 1.5 s, panels: Project, Runs")
    torch_in_gui = finish_qt(_Finished(0, out.replace("false", "true"), ""), "offscreen")
    assert not torch_in_gui.ok and "imported torch" in torch_in_gui.detail
    timed_out = finish_qt(_Finished(None, "", ""), "xcb")
    assert not timed_out.ok and timed_out.name == "Qt window (xcb platform)" and "120 s" in timed_out.detail


def test_a_crashing_worker_fails_the_training_check_and_shows_its_stderr(tmp_path: Path) -> None:
    fake = tmp_path / "fake_worker.py"
    fake.write_text(textwrap.dedent("""
        import sys
        print("RuntimeError: simulated CUDA failure", file=sys.stderr)
        sys.exit(3)
    """), encoding="utf-8")
    project, problems, _ = make_project(tmp_path)
    assert problems == []
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    try:
        check, run = check_training([sys.executable, str(fake)], project, model_dir, tmp_path)
    finally:
        project.close()
    assert not check.ok and run is None
    assert "run ended crashed" in check.detail and "exit code 3" in check.detail
    assert "simulated CUDA failure" in check.detail  # the worker's stderr went to the log, shown on failure
    data = (tmp_path / "runs" / "0001-self-test" / "data.jsonl").read_text()
    assert data.count("\n") == 12 and data.count('"detail"') == 6  # both objectives' pairs went into the run


def test_the_project_check_migrates_a_file_of_the_first_revision(tmp_path: Path) -> None:
    from workbench.store.db import head_revision

    project, problems, detail = make_project(tmp_path)
    project.close()
    assert problems == [] and base_revision() == "0001"
    assert detail == f"schema 0001 -> {head_revision()} (backup kept), journal wal, 12 labels of 2 objectives"
    assert (tmp_path / "self-test.sqlite.bak-0001").is_file()


def test_a_failed_torch_check_reports_every_worker_check_as_not_run(tmp_path: Path) -> None:
    # A program whose children all fail at once: Qt, torch and hence the four worker checks fail, with reasons.
    broken = tmp_path / "broken.py"
    broken.write_text("import sys\nprint('ImportError: libtorch_cpu.so: cannot open shared object file', "
                      "file=sys.stderr)\nsys.exit(1)\n", encoding="utf-8")
    checks = run_checks([sys.executable, str(broken)], tmp_path, "offscreen")
    assert [c.ok for c in checks] == [False, True, False, False, False, False, False]
    assert "libtorch_cpu.so" in checks[2].detail
    assert [c.detail for c in checks[3:]] == ["not run: it needs the SQLite and torch checks to pass"] * 4


def test_gpu_advice_names_the_fix_only_when_a_gpu_goes_unused() -> None:
    cpu_build = {"cuda": False, "cuda_build": None}
    assert "CUDA edition" in gpu_advice(cpu_build, "/usr/bin/nvidia-smi")
    assert gpu_advice(cpu_build, None) == ""  # no NVIDIA GPU: the CPU build is the right one
    assert "driver" in gpu_advice({"cuda": False, "cuda_build": "12.8"}, "/usr/bin/nvidia-smi")
    assert gpu_advice({"cuda": True, "cuda_build": "12.8"}, "/usr/bin/nvidia-smi") == ""


def test_report_falls_back_to_ascii_marks_on_a_legacy_console(monkeypatch: pytest.MonkeyPatch) -> None:
    check = Check("SQLite project", False, 1.25, "journal mode is delete, not wal", "reinstall")
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="cp1252"))
    assert format_check(check).splitlines() == [
        f"FAIL {'SQLite project':<44}    1.2 s", "    journal mode is delete, not wal", "    what to do: reinstall"]
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))
    assert format_check(Check("x", True, 0.0, "")).startswith("✓ x")


def test_frozen_builds_re_execute_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    assert selftest.self_command() == [sys.executable, "-m", "workbench"]
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    assert selftest.self_command() == [sys.executable]
