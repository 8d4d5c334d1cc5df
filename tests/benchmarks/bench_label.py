"""Key → next pair: how long after the key that finishes a screen the next pair is on screen, with 1,000,000
labels in the project. Target: < 30 ms.

The project: 250,000 pairs labelled by two annotators on two objectives (1,000,000 active labels) + 5,000 pairs
nobody labelled. Rows are bulk-inserted with sqlite3 in the store's schema (a fixture shortcut: the store's own
import path is tested elsewhere; `pair.labelled_by` is set as refresh_labelled_by would). A third annotator then
labels SCREENS pairs in the real LabelPanel (offscreen) by key presses, two objective rows per pair, with overlap 1.
Between screens the script waits READ_MS = 100 ms in the event loop (a person reads for seconds; this only
lets the prefetch land). The table also shows the bare `next_pair` + `pair_view` query time, which is what a panel
without prefetch would add to every key.

A second table times the label commit alone (`add_label` in its own transaction, what each key press costs the
DB thread). `--synchronous NORMAL|FULL` picks the durability setting (the store uses FULL; issue #12): run both,
alternating, to see what the fsync per commit costs on a given disk.

Run: QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_label.py [--labels 1000000]
     [--synchronous NORMAL]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import workbench.ui  # noqa: E402,F401  (PySide6 refcount workaround first)
from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

SCREENS = 150
READ_MS = 100
FREE_PAIRS = 5000
NOW = "2026-01-01 00:00:00.000000"


def build(path: Path, labels: int) -> None:
    """Create the project through the store, then bulk-insert prompts, responses, pairs and labels."""
    from workbench.store.annotators import get_or_create_annotator
    from workbench.store.db import create_project
    from workbench.store.objectives import add_objective

    project = create_project(path)
    with project.session() as s:
        objectives = [add_objective(s, n).id for n in ("helpful", "harmless")]
        raters = [get_or_create_annotator(s, n).id for n in ("bob", "carol")]
        get_or_create_annotator(s, "alice")
    project.close()
    labelled = labels // (len(objectives) * len(raters))
    n_pairs = labelled + FREE_PAIRS
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    with con:
        con.executemany("INSERT INTO prompt (id, text, source, text_hash) VALUES (?, ?, 'bench', ?)",
                        ((i, f"Prompt {i}: how do I do thing {i}?", f"p{i:038d}") for i in range(1, n_pairs + 1)))
        con.executemany("INSERT INTO response (id, prompt_id, text, model, generation, text_hash) "
                        "VALUES (?, ?, ?, '', '{}', ?)",
                        ((2 * i - 1 + side, i, f"Response {'AB'[side]} to {i}. " * 8, f"r{2 * i + side:038d}")
                         for i in range(1, n_pairs + 1) for side in (0, 1)))
        con.executemany("INSERT INTO pair (id, prompt_id, response_a_id, response_b_id, source, extra, created_at, "
                        "labelled_by, shuffle_key) VALUES (?, ?, ?, ?, 'bench', '{}', ?, ?, ?)",
                        ((i, i, 2 * i - 1, 2 * i, NOW, len(raters) if i <= labelled else 0,
                          (i * 2654435761) % (1 << 31)) for i in range(1, n_pairs + 1)))
        con.executemany("INSERT INTO label (pair_id, objective_id, annotator_id, choice, strength, note, created_at, "
                        "shown_swapped) VALUES (?, ?, ?, ?, 2, '', ?, ?)",
                        ((i, o, a, "ab"[(i + o + a) % 2], NOW, (i + a) % 2)
                         for i in range(1, labelled + 1) for o in objectives for a in raters))
    con.execute("ANALYZE")
    con.close()


def idle(app: QApplication, seconds: float) -> None:
    """Run the event loop for `seconds`, sleeping between passes as an idle GUI does (time.sleep releases the GIL;
    a busy processEvents loop or QTest.qWait would keep the DB thread from running)."""
    end = time.monotonic() + seconds
    while True:
        app.processEvents()
        left = end - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(left, 0.001))


def label_screens(app: QApplication, ctx, order: str) -> list[float]:
    from workbench.ui.panels.label_panel import LabelPanel

    panel = LabelPanel(ctx)
    panel.resize(1100, 760)
    panel.show()
    panel.reload()
    panel.annotator.setCurrentIndex(panel.annotator.findText("alice"))
    panel.order.setCurrentIndex(panel.order.findData(order))
    panel.start_session()
    deadline = time.monotonic() + 30
    while panel.pair_view.shown_pair_id is None and time.monotonic() < deadline:
        idle(app, 0.001)
    for _ in range(SCREENS):
        shown = panel.pair_view.shown_pair_id
        QTest.keyClick(panel.rows, Qt.Key.Key_1)
        QTest.keyClick(panel.rows, Qt.Key.Key_2)
        while panel.pair_view.shown_pair_id == shown:
            idle(app, 0.001)
        idle(app, READ_MS / 1000)
    times = list(panel.advance_ms)
    panel.shutdown()
    panel.deleteLater()
    return times


def query_times(ctx, order: str) -> list[float]:
    from workbench.services.label_session import fetch_next

    from workbench.store.annotators import get_or_create_annotator

    alice = ctx.db.call_sync(get_or_create_annotator, "alice").id
    out = []
    for i in range(50):
        t0 = time.perf_counter()
        ctx.db.call_sync(fetch_next, alice, [1, 2], 1, order, (), i, None)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def commit_times(ctx, n: int = 200) -> list[float]:
    """Milliseconds per label commit: add_label on the DB thread, one transaction each (as the Label panel does)."""
    from workbench.store.annotators import get_or_create_annotator
    from workbench.store.labels import add_label

    dave = ctx.db.call_sync(get_or_create_annotator, "dave").id
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        ctx.db.call_sync(add_label, 1 + i, 1, dave, "a")
        out.append((time.perf_counter() - t0) * 1000)
    return out


def row(name: str, values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
    return f"| {name:<34} | {len(values):>5} | {statistics.median(values):>8.2f} | {p95:>8.2f} | {values[-1]:>8.2f} |"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--labels", type=int, default=1_000_000)
    parser.add_argument("--synchronous", choices=("NORMAL", "FULL"), default=None,
                        help="override the store's PRAGMA synchronous (default: the store's own, FULL)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from workbench.services.context import AppContext
    from workbench.store import db

    if args.synchronous:
        db.SYNCHRONOUS = args.synchronous
    print(f"PRAGMA synchronous={db.SYNCHRONOUS}")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        t0 = time.perf_counter()
        build(path, args.labels)
        print(f"built a project with {args.labels:,} labels in {time.perf_counter() - t0:.1f} s")
        ctx = AppContext(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
        ctx.open_project(path)
        print("| measurement (ms)                   |     n |   median |      p95 |      max |")
        print("|------------------------------------|-------|----------|----------|----------|")
        for order in ("random", "in_order", "coverage"):
            print(row(f"key -> next pair, order={order}", label_screens(app, ctx, order)), flush=True)
            print(row(f"next_pair+pair_view, order={order}", query_times(ctx, order)), flush=True)
        print(row(f"label commit ({db.SYNCHRONOUS})", commit_times(ctx)), flush=True)
        ctx.shutdown(stop_runs=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
