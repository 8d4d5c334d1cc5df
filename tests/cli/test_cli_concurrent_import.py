"""Two `workbench import` processes at once on one project (issue #12): the second waits for the first's
transaction (busy timeout) instead of failing, and the overlap is deduplicated, never an IntegrityError."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.cli.cli_testing import ROOT, count, workbench, write_jsonl


def test_two_imports_at_once_both_succeed_without_duplicates(tmp_path: Path) -> None:
    project = tmp_path / "p.sqlite"
    assert workbench("init", str(project)).returncode == 0
    rows = [{"prompt": f"question {i}", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(300)]
    first_file = write_jsonl(tmp_path / "a.jsonl", rows[:200])
    second_file = write_jsonl(tmp_path / "b.jsonl", rows[100:])  # 100 pairs in both files
    env = {**os.environ, "WORKBENCH_TEST_IMPORT_PAUSE": "3"}  # holds its write transaction open for 3 s
    first = subprocess.Popen([sys.executable, "-m", "workbench", "import", str(project), str(first_file)],
                             cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr.readline() == "import: rows written, transaction open\n"
        second = workbench("import", str(project), str(second_file))  # starts while the first holds the lock
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    assert first.returncode == 0, err
    assert second.returncode == 0, second.stderr
    assert "Traceback" not in second.stderr + err
    assert out.startswith("imported 200 pairs")
    assert second.stdout.startswith("imported 100 pairs") and "100 duplicates skipped" in second.stdout
    assert count(project, "pair") == 300 and count(project, "prompt") == 300
    con = sqlite3.connect(project)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("SELECT count(*) FROM objective").fetchone() == (1,)
    finally:
        con.close()
