"""Import benchmark: a 100,000-pair TRL file read and imported into a fresh project (target: under 10 s).

Run as a script (`python tests/benchmarks/bench_import.py [--pairs 100000] [--chat]`); prints one row per stage:
writing the file (setup, not part of the target), reading + checking it (`formats.read_dataset`, auto-detected),
`import_records` in one transaction, and the whole `workbench import` command as a user runs it (a subprocess,
interpreter start-up included). Wall-clock and CPU seconds are both printed: on a shared machine the CPU time of
this process (of the subprocess for the CLI row) is the number that does not depend on what else is running.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from workbench.formats import read_dataset  # noqa: E402
from workbench.store.db import create_project  # noqa: E402
from workbench.store.imports import import_records  # noqa: E402
from workbench.store.objectives import add_objective  # noqa: E402

TARGET_S = 10.0


def write_pairs(path: Path, n: int, chat: bool) -> None:
    """n distinct TRL rows of a few hundred bytes each (about the size of a short chat turn)."""
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            prompt = f"Question {i}: explain topic {i % 977} in a few sentences, with an example."
            chosen = f"A careful answer to question {i}, with the example it asked for. " * 3
            rejected = f"An off-topic reply to question {i}. " * 3
            if chat:
                row = {"prompt": [{"role": "user", "content": prompt}],
                       "chosen": [{"role": "assistant", "content": chosen}],
                       "rejected": [{"role": "assistant", "content": rejected}]}
            else:
                row = {"prompt": prompt, "chosen": chosen, "rejected": rejected, "score_chosen": 8.0}
            fh.write(json.dumps(row) + "\n")


def _cpu() -> float:
    """CPU seconds of this process plus its finished children (the CLI subprocess)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn):  # type: ignore[no-untyped-def]
    """(value, (wall seconds, CPU seconds))."""
    start, cpu = time.perf_counter(), _cpu()
    value = fn()
    return value, (time.perf_counter() - start, _cpu() - cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--chat", action="store_true", help="conversational rows instead of strings")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "pairs.jsonl"
        _, t_write = timed(lambda: write_pairs(data, args.pairs, args.chat))
        records, t_read = timed(lambda: read_dataset(data))
        project = create_project(folder / "bench.sqlite")
        with project.session() as s:
            add_objective(s, "helpfulness")

        def do_import():  # type: ignore[no-untyped-def]
            with project.session() as s:
                return import_records(s, records, default_objective="helpfulness", source="bench")

        report, t_import = timed(do_import)
        project.close()
        assert report.pairs_added == args.pairs, report
        create_project(folder / "cli.sqlite").close()
        cli = [sys.executable, "-m", "workbench", "import", str(folder / "cli.sqlite"), str(data),
               "--objective", "helpfulness"]
        done, t_cli = timed(lambda: subprocess.run(cli, cwd=ROOT, capture_output=True, text=True))
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        size_mb = data.stat().st_size / 1e6
    both = (t_read[0] + t_import[0], t_read[1] + t_import[1])
    rows = [("write file (setup)", t_write), ("read + check", t_read), ("import_records", t_import),
            ("read + import_records", both), ("`workbench import` end to end", t_cli)]
    form = "chat messages" if args.chat else "strings"
    print(f"{args.pairs:,} TRL pairs ({form}), {size_mb:.1f} MB; target read + import_records < {TARGET_S:.0f} s")
    print(f"{'stage':<32}{'wall s':>9}{'CPU s':>9}{'pairs/s (wall)':>16}")
    for name, (wall, cpu) in rows:
        print(f"{name:<32}{wall:>9.2f}{cpu:>9.2f}{args.pairs / wall:>16,.0f}")
    verdict = "met" if both[0] < TARGET_S else "MISSED"
    print(f"target {verdict}: read + import_records = {both[0]:.2f} s wall ({both[1]:.2f} s CPU)")


if __name__ == "__main__":
    main()
