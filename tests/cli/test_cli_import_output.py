"""What `workbench import` prints: the summary line, and the percentage line a terminal sees while reading."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

from tests.cli.cli_testing import ROOT, count, workbench, write_jsonl
from workbench.cli.import_cmd import PercentLine, summary
from workbench.formats import read_dataset
from workbench.store.imports import ImportReport


def test_summary_lists_duplicate_lines_and_new_objectives() -> None:
    report = ImportReport(pairs_added=7, labels_added=9, unpaired_added=1, duplicates=tuple(range(2, 27)),
                          objectives_created=("honesty",))
    assert summary(report, ["helpfulness", "honesty"]) == (
        "imported 7 pairs, 9 labels, 1 unpaired rating (25 duplicates skipped: lines 2, 3, 4, 5, 6, 7, 8, 9, 10, "
        "11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, ... (5 more)), objectives: helpfulness, honesty (new)")


def test_percent_line_reports_each_percent_once(tmp_path: Path) -> None:
    rows = [{"prompt": f"p{i}", "chosen": "a", "rejected": "b"} for i in range(1000)]
    path = write_jsonl(tmp_path / "pairs.jsonl", rows)
    stream = io.StringIO()
    line = PercentLine("reading pairs.jsonl", stream)
    assert len(read_dataset(path, progress=line)) == 1000
    line.finish("importing 1000 records ...")
    shown = stream.getvalue().split("\r")[1:]
    percents = [int(s.split(": ")[1].split("%")[0]) for s in shown]
    assert percents == sorted(set(percents)) and percents[0] == 0 and percents[-1] == 100
    assert len(percents) >= 90  # about one update per percent, not one per line (1000 lines)
    assert stream.getvalue().endswith("\rreading pairs.jsonl: 100%\nimporting 1000 records ...\n")


def test_kto_feedback_imports_as_unpaired_ratings(tmp_path: Path) -> None:
    project = tmp_path / "p.sqlite"
    assert workbench("init", str(project)).returncode == 0
    rows = [{"prompt": "p", "completion": "nice", "label": True}, {"prompt": "p", "completion": "rude", "label": False},
            {"prompt": "p", "completion": "nice", "label": True}]
    done = workbench("import", str(project), str(write_jsonl(tmp_path / "kto.jsonl", rows)))
    assert done.stdout == ("imported 0 pairs, 0 labels, 2 unpaired ratings (1 duplicate skipped: line 3), "
                           "objectives: helpfulness\n"), done.stderr
    assert count(project, "unpaired_feedback") == 2 and count(project, "pair") == 0


def test_terminal_sees_percentages_a_pipe_does_not(tmp_path: Path) -> None:
    project = tmp_path / "p.sqlite"
    assert workbench("init", str(project)).returncode == 0
    rows = [{"prompt": f"question {i}", "chosen": f"a good and long answer {i} " * 6, "rejected": f"no {i}"}
            for i in range(6000)]
    big = write_jsonl(tmp_path / "big.jsonl", rows)
    assert big.stat().st_size > 1_000_000
    master, slave = pty.openpty()
    seen: list[bytes] = []

    def drain() -> None:  # read the terminal while the command runs, so its writes never block
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed with the process
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "import", str(project), str(big)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    out, _ = proc.communicate(timeout=240)
    reader.join(timeout=30)
    os.close(master)
    assert out == "imported 6000 pairs, 6000 labels (0 duplicates skipped), objectives: helpfulness\n"
    terminal = b"".join(seen).decode()
    assert "\rreading big.jsonl: 0%" in terminal and "\rreading big.jsonl: 100%" in terminal
    assert terminal.rstrip().endswith("importing 6000 records ...")
    again = workbench("import", str(project), str(big))  # stderr is a pipe here: nothing but the summary
    assert again.stderr == "" and "6000 duplicates skipped" in again.stdout
