"""`workbench import` reads Parquet with the JSONL rules (issue #13): same counts, duplicates by row, bad rows named
and nothing stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.cli_testing import count, workbench

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

ROWS = [{"prompt": "2+2?", "chosen": "4", "rejected": "5"},
        {"prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon"},
        {"prompt": "2+2?", "chosen": "4", "rejected": "5"}]  # row 3 repeats row 1


def test_import_parquet_and_refuse_a_bad_one(tmp_path: Path) -> None:
    project = tmp_path / "p.sqlite"
    assert workbench("init", str(project), "--objective", "helpful").returncode == 0
    good = tmp_path / "prefs.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), good)
    done = workbench("import", str(project), str(good))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "imported 2 pairs, 2 labels (1 duplicate skipped: line 3), objectives: helpful\n"
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.Table.from_pylist([{"prompt": "a", "chosen": "x", "rejected": "y"},
                                         {"prompt": "b", "chosen": "", "rejected": "z"}]), bad)
    failed = workbench("import", str(project), str(bad))
    assert failed.returncode != 0
    assert f"{bad}:2:" in failed.stderr and "Traceback" not in failed.stderr
    assert count(project, "pair") == 2  # all or nothing
