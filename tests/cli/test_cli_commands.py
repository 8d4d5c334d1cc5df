"""`workbench init / import / stats / export` end to end, as subprocesses, with the numbers they print."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.cli_testing import count, sha256, workbench, write_jsonl

PAIRS = [{"prompt": "2+2?", "chosen": "4", "rejected": "5", "score_chosen": 9.0},
         {"prompt": "Capital of France?", "chosen": "Paris", "rejected": "Lyon"},
         {"prompt": "Sky colour?", "chosen": "Blue", "rejected": "Green"},
         {"prompt": "2+2?", "chosen": "4", "rejected": "5", "score_chosen": 9.0},  # line 4 repeats line 1
         {"prompt": "Largest planet?", "chosen": "Jupiter", "rejected": "Mars"}]


def completion(text: str, helpfulness: str, honesty: str) -> dict:
    return {"response": text, "model": "m", "annotations": {"helpfulness": {"Rating": helpfulness},
                                                           "honesty": {"Rating": honesty}}}


def test_init_import_stats_export(tmp_path: Path) -> None:
    project = tmp_path / "p.sqlite"
    made = workbench("init", str(project), "--objective", "helpfulness", "--objective", "honesty")
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"created {project} with objectives: helpfulness, honesty\n"

    trl_file = write_jsonl(tmp_path / "pairs.jsonl", PAIRS)
    done = workbench("import", str(project), str(trl_file), "--objective", "helpfulness")
    assert done.returncode == 0, done.stderr
    assert done.stdout == ("imported 4 pairs, 4 labels (1 duplicate skipped: line 4), "
                           "objectives: helpfulness\n")

    # UltraFeedback: helpfulness 5 vs 3 -> 1 pair; honesty 4 vs 4 -> none; a new aspect creates its objective
    uf = {"instruction": "Sky colour?", "completions": [completion("Blue", "5", "4"), completion("Green", "3", "4")]}
    uf2 = {"instruction": "Name a fruit.", "completions": [
        {"response": "Apple", "annotations": {"truthfulness": {"Rating": "5"}}},
        {"response": "Rock", "annotations": {"truthfulness": {"Rating": "1"}}}]}
    done = workbench("import", str(project), str(write_jsonl(tmp_path / "uf.jsonl", [uf, uf2])))
    assert done.returncode == 0, done.stderr
    # the helpfulness pair (Sky colour?, Blue > Green) is line 3 of the first file already: a duplicate
    assert done.stdout == ("imported 1 pair, 1 label (1 duplicate skipped: line 1), "
                           "objectives: helpfulness, truthfulness (new)\n")

    stats = workbench("stats", str(project))
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.splitlines() == [
        f"{project}: 5 pairs, 5 prompts, 10 responses",
        "",
        "objective     labelled pairs  labels  coverage",
        "helpfulness                4       4     80.0%",
        "honesty                    0       0      0.0%",
        "truthfulness               1       1     20.0%",
        "",
        "annotator  labels",
        "dataset         5",
    ]

    out = tmp_path / "helpfulness.jsonl"
    exported = workbench("export", str(project), "--objective", "helpfulness", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == f"exported 4 pairs of objective 'helpfulness' to {out} as trl\n"
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in rows] == [
        ("2+2?", "4", "5"), ("Capital of France?", "Paris", "Lyon"), ("Sky colour?", "Blue", "Green"),
        ("Largest planet?", "Jupiter", "Mars")]
    assert {r["objective"] for r in rows} == {"helpfulness"} and rows[0]["votes_a"] == 1
    assert rows[0]["score_chosen"] == 9.0 and "score_chosen" not in rows[1]  # imported extra columns come back

    # the exported file imports into a fresh project unchanged: same four pairs, nothing duplicated
    fresh = tmp_path / "fresh.sqlite"
    assert workbench("init", str(fresh)).returncode == 0
    again = workbench("import", str(fresh), str(out))
    assert again.stdout == "imported 4 pairs, 4 labels (0 duplicates skipped), objectives: helpfulness\n"


def test_malformed_file_leaves_the_project_untouched(tmp_path: Path) -> None:
    project = tmp_path / "p.sqlite"
    assert workbench("init", str(project)).returncode == 0
    assert workbench("import", str(project), str(write_jsonl(tmp_path / "ok.jsonl", PAIRS[:2]))).returncode == 0
    before = sha256(project)
    bad = write_jsonl(tmp_path / "bad.jsonl", [*PAIRS[2:], {"prompt": "x", "chosen": "", "rejected": "y"}, "{nope"])
    failed = workbench("import", str(project), str(bad))
    assert failed.returncode == 1
    assert failed.stderr == (f"workbench: {bad}:4: 'chosen' is empty: every response needs text; remove the record "
                             "or fill it in (1 more problem, on line 5)\n")
    assert failed.stdout == ""
    assert sha256(project) == before
    assert not Path(f"{project}-wal").exists()  # the project was never even opened
    assert count(project, "pair") == 2

    latin1 = tmp_path / "latin1.jsonl"
    latin1.write_bytes(b'{"prompt": "caf\xe9", "chosen": "a", "rejected": "b"}\n')
    failed = workbench("import", str(project), str(latin1))
    assert failed.returncode == 1 and f"{latin1}:1: byte 16 of the line (0xe9) is not UTF-8" in failed.stderr
    assert sha256(project) == before


def test_user_mistakes_give_one_line_reasons(tmp_path: Path) -> None:
    project = tmp_path / "p.sqlite"
    assert workbench("init", str(project), "--objective", "a", "--objective", "b").returncode == 0
    pairs = write_jsonl(tmp_path / "pairs.jsonl", PAIRS[:1])
    cases = [
        (("init", str(project)), "already exists"),
        (("init", str(tmp_path / "q.sqlite"), "--objective", "x", "--objective", "x"), "'x' is given twice"),
        (("import", str(tmp_path / "missing.sqlite"), str(pairs)), "does not exist: create it first"),
        (("import", str(project), str(pairs)), "pass --objective NAME"),
        (("import", str(project), str(tmp_path / "none.jsonl")), "cannot read the file"),
        (("import", str(project), str(write_jsonl(tmp_path / "q.jsonl", [{"q": 1}]))), "pass --format"),
        (("export", str(project), "--objective", "nope", "--out", str(tmp_path / "o.jsonl")), "no objective named"),
        (("stats", str(tmp_path / "missing.sqlite")), "does not exist"),
    ]
    for args, reason in cases:
        result = workbench(*args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("workbench: ") and result.stderr.count("\n") == 1, result.stderr
        assert reason in result.stderr, (args, result.stderr)
    assert not (tmp_path / "q.sqlite").exists()
    assert count(project, "pair") == 0
