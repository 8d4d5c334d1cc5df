"""Store benchmark: importing 100,000 preference records, and `next_pair` latency with 1,000,000 labels.

Run as a script (`python tests/benchmarks/bench_store.py [--pairs 300000]`); prints a table. The budget from
store_api.md is next_pair < 20 ms with a million labels in the project, and the import well under 10 s.

Project built for the queue: 300,000 pairs, of which 250,000 carry labels by a "dataset" annotator on 4 objectives
(1,000,000 labels), and 2,000 pairs labelled by the human annotator "me" on every objective.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from sqlalchemy import insert, text  # noqa: E402

from workbench.core.entities import PreferenceRecord  # noqa: E402
from workbench.store.annotators import get_or_create_annotator  # noqa: E402
from workbench.store.clock import utcnow  # noqa: E402
from workbench.store.db import Project, create_project  # noqa: E402
from workbench.store.imports import import_records  # noqa: E402
from workbench.store.objectives import add_objective  # noqa: E402
from workbench.store.queue import next_pair  # noqa: E402
from workbench.store.schema import LabelRow, PairRow, PromptRow, ResponseRow  # noqa: E402

OBJECTIVES = ("helpful", "harmless", "honest", "concise")
CHUNK = 50_000


def bench_import(folder: Path, n: int) -> tuple[float, str]:
    records = [PreferenceRecord(prompt=f"Question {i}: explain topic {i % 977} in detail.",
                                chosen=f"A careful answer to question {i}. " * 4,
                                rejected=f"A sloppy answer to question {i}.", line=i + 1,
                                extra={"score_chosen": 8.0, "score_rejected": 3.0}) for i in range(n)]
    project = create_project(folder / "import.sqlite")
    start = time.perf_counter()
    with project.session() as s:
        report = import_records(s, records, default_objective="helpful", source="bench.jsonl")
    took = time.perf_counter() - start
    project.close()
    return took, f"{report.pairs_added} pairs, {report.labels_added} labels"


def _bulk(project: Project, table: type, rows: list[dict]) -> None:
    with project.session() as s:
        for i in range(0, len(rows), CHUNK):
            s.execute(insert(table), rows[i:i + CHUNK])


def build_labelled_project(folder: Path, pairs: int, labelled: int, mine: int) -> tuple[Project, dict[str, int]]:
    project = create_project(folder / "queue.sqlite")
    with project.session() as s:
        objectives = [add_objective(s, name).id for name in OBJECTIVES]
        dataset, me = get_or_create_annotator(s, "dataset").id, get_or_create_annotator(s, "me").id
        fresh = get_or_create_annotator(s, "newcomer").id
    rng, now = random.Random(0), utcnow()
    _bulk(project, PromptRow, [{"id": i, "text": f"p{i}", "source": "b", "text_hash": f"p{i}"}
                               for i in range(1, pairs + 1)])
    _bulk(project, ResponseRow, [{"id": 2 * i - 1 + k, "prompt_id": i, "text": f"r{i}{k}", "model": "",
                                  "generation": {}, "text_hash": f"r{k}"} for i in range(1, pairs + 1)
                                 for k in range(2)])
    _bulk(project, PairRow, [{"id": i, "prompt_id": i, "response_a_id": 2 * i - 1, "response_b_id": 2 * i,
                              "source": "b", "extra": {}, "created_at": now, "labelled_by": 0,
                              "shuffle_key": rng.getrandbits(31)} for i in range(1, pairs + 1)])
    rows = [{"pair_id": p, "objective_id": o, "annotator_id": dataset, "choice": "a", "strength": 2, "note": "",
             "created_at": now} for p in range(1, labelled + 1) for o in objectives]
    rows += [{"pair_id": p, "objective_id": o, "annotator_id": me, "choice": "b", "strength": 2, "note": "",
              "created_at": now} for p in range(labelled + 1, labelled + mine + 1) for o in objectives]
    _bulk(project, LabelRow, rows)
    with project.session() as s:
        s.execute(text("UPDATE pair SET labelled_by = (SELECT count(DISTINCT annotator_id) FROM label "
                       "WHERE label.pair_id = pair.id AND superseded_at IS NULL)"))
        s.execute(text("ANALYZE"))
    return project, {"me": me, "newcomer": fresh, "dataset": dataset, "labels": len(rows)}


def latency(project: Project, call: Callable[..., object], repeats: int) -> tuple[float, float]:
    times = []
    with project.session() as s:
        for seed in range(repeats):
            start = time.perf_counter()
            call(s, seed)
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=300_000)
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()
    labelled = 1_000_000 // len(OBJECTIVES)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        took, what = bench_import(folder, args.records)
        print(f"{'import_records':44s} {took:8.2f} s   ({args.records:,} records -> {what})")
        start = time.perf_counter()
        project, who = build_labelled_project(folder, args.pairs, labelled, 2_000)
        print(f"{'build queue project (bulk insert)':44s} {time.perf_counter() - start:8.2f} s   "
              f"({args.pairs:,} pairs, {who['labels']:,} labels)")
        margins = {pid: random.Random(pid).gauss(0, 1) for pid in range(1, args.pairs + 1, 7)}
        cases: list[tuple[str, Callable[..., object]]] = [
            ("me, random, overlap 1", lambda s, seed: next_pair(s, who["me"], seed=seed)),
            ("me, random, overlap 2", lambda s, seed: next_pair(s, who["me"], overlap=2, seed=seed)),
            ("me, in_order, overlap 1", lambda s, seed: next_pair(s, who["me"], order="in_order")),
            ("me, in_order, overlap 2", lambda s, seed: next_pair(s, who["me"], order="in_order", overlap=2)),
            ("me, coverage, overlap 2", lambda s, seed: next_pair(s, who["me"], order="coverage", overlap=2,
                                                                  seed=seed)),
            ("me, active (43k margins), overlap 2", lambda s, seed: next_pair(s, who["me"], order="active",
                                                                              overlap=2, margins=margins)),
            ("newcomer, random, overlap 2, 1 objective", lambda s, seed: next_pair(
                s, who["newcomer"], overlap=2, objective_ids=[1], seed=seed)),
            ("dataset (1M labels), random, overlap 2", lambda s, seed: next_pair(s, who["dataset"], overlap=2,
                                                                                  seed=seed)),
        ]
        print(f"{'next_pair case':44s} {'median ms':>10s} {'p95 ms':>10s}")
        for name, call in cases:
            median, p95 = latency(project, call, args.repeats)
            print(f"{name:44s} {median:10.2f} {p95:10.2f}")
        project.close()


if __name__ == "__main__":
    main()
