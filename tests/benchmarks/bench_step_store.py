"""Step-label store benchmark (issue #17): `import_stepwise` and `export_stepwise` throughput, and `next_response` /
`open_response_count` latency of the step-labelling queue.

Run as a script (`python tests/benchmarks/bench_step_store.py [--responses 20000] [--imported 20000]`); prints a
table (queue calls: median of 5). Project: `imported` 4-step solutions imported with a rating per step by an import
annotator, then plain two-line responses up to `responses` in all, 200 of them finished by the human "me".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from workbench.core.steps import GOOD, StepSplit, StepwiseRecord  # noqa: E402
from workbench.store.annotators import get_or_create_annotator  # noqa: E402
from workbench.store.db import create_project  # noqa: E402
from workbench.store.step_labels import label_step, set_split  # noqa: E402
from workbench.store.step_queue import next_response, open_response_count  # noqa: E402
from workbench.store.step_records import export_stepwise, import_stepwise  # noqa: E402


def median_ms(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--responses", type=int, default=20000)
    ap.add_argument("--imported", type=int, default=20000)
    args = ap.parse_args()
    project = create_project(Path(tempfile.mkdtemp()) / "p.sqlite")
    records = [StepwiseRecord(f"q{i}", (f"a{i}", f"b{i}", f"c{i}", f"d{i}"), (GOOD,) * 4, reference_answer=str(i))
               for i in range(args.imported)]
    t0 = time.perf_counter()
    with project.session() as s:
        import_stepwise(s, records, "correct", "dataset")
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with project.session() as s:
        import_stepwise(s, records, "correct", "dataset")
    again_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    with project.session() as s:
        exported = export_stepwise(s, "correct")
    export_s = time.perf_counter() - t0
    assert len(exported) == args.imported
    with project.session() as s:
        obj = 1  # "correct", created by the import
        me = get_or_create_annotator(s, "me").id
        con = s.connection()
        con.exec_driver_sql("INSERT INTO prompt (text, source, text_hash) VALUES ('bench', '', 'bench')")
        pid = con.exec_driver_sql("SELECT id FROM prompt WHERE text_hash = 'bench'").scalar()
        con.exec_driver_sql("INSERT INTO response (prompt_id, text, model, generation, text_hash) VALUES "
                            + ",".join(f"({pid}, 'x{i}\ny{i}', '', '{{}}', 'r{i}')"
                                       for i in range(max(200, args.responses - args.imported))))
        first = con.exec_driver_sql("SELECT min(id) FROM response WHERE prompt_id = ?", (pid,)).scalar()
        for rid in range(first, first + 200):
            set_split(s, rid, StepSplit("line"))
            label_step(s, rid, 0, obj, me, GOOD)
            label_step(s, rid, 1, obj, me, GOOD)
    print(f"project: {args.responses:,} responses, {args.imported:,} imported with {4 * args.imported:,} step labels")
    print("| call | order | ms |")
    print("|---|---|---|")
    print(f"| import_stepwise, {args.imported:,} records | - | {import_s * 1000:.0f} |")
    print(f"| import_stepwise, the same again (all duplicates) | - | {again_s * 1000:.0f} |")
    print(f"| export_stepwise, {args.imported:,} records | - | {export_s * 1000:.0f} |")
    with project.session() as s:
        for order in ("in_order", "random"):
            ms = median_ms(lambda: next_response(s, me, obj, order=order, seed=1))
            print(f"| next_response | {order} | {ms:.1f} |")
        print(f"| open_response_count | - | {median_ms(lambda: open_response_count(s, me, obj)):.1f} |")
    project.close()


if __name__ == "__main__":
    main()
