"""SIGKILL during `workbench import` of a big file: the project stays intact and holds none of its pairs."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.cli.cli_testing import ROOT, count, workbench, write_jsonl

N_PAIRS = 40_000  # enough rows that the transaction spans many pages; small enough for a 2-core CI


def test_sigkill_inside_the_import_transaction(tmp_path: Path) -> None:
    project = tmp_path / "p.sqlite"
    assert workbench("init", str(project)).returncode == 0
    big = write_jsonl(tmp_path / "big.jsonl", [{"prompt": f"question {i}", "chosen": f"good answer {i} " * 8,
                                                "rejected": f"bad answer {i}"} for i in range(N_PAIRS)])
    env = {**os.environ, "WORKBENCH_TEST_IMPORT_PAUSE": "120"}
    proc = subprocess.Popen([sys.executable, "-m", "workbench", "import", str(project), str(big)], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()  # printed once every row is written, before the commit
        assert line == "import: rows written, transaction open\n", line + proc.stderr.read()
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    con = sqlite3.connect(project)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        con.close()
    for table in ("pair", "prompt", "response", "label"):
        assert count(project, table) == 0, table

    # the project still takes an import afterwards
    small = write_jsonl(tmp_path / "small.jsonl", [{"prompt": "p", "chosen": "a", "rejected": "b"}])
    done = workbench("import", str(project), str(small))
    assert done.stdout == "imported 1 pair, 1 label (0 duplicates skipped), objectives: helpfulness\n"
    assert count(project, "pair") == 1
