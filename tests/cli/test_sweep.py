"""Headless weight sweeps: two conflicting objectives rated by scorer functions give a stored Pareto front whose
extreme weights win on their own objective (soup: λ grid over two earlier adapters; mah_dpo: one run, mixtures).

The pairs are labelled by the same rules the scorers measure (brevity: fewer characters wins; detail: more
distinct words wins), on synthetic responses, so the objectives conflict on every prompt."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import tiny_model_dir  # noqa: F401 - the session-scoped model fixture
from workbench.cli.sweep import run_sweep
from workbench.cli.sweep_grid import reward_axes, reward_vector, weight_grid
from workbench.core.entities import PreferenceRecord
from workbench.core.errors import InputError
from workbench.core.pareto import hypervolume, non_dominated
from workbench.core.run_config import RunConfig
from workbench.core.scorer_trust import TrustBook, file_sha256
from workbench.core.scorers import load_user_scorers
from workbench.store.db import create_project, open_project
from workbench.store.imports import import_records
from workbench.store.runs import list_checkpoints, list_evaluations, list_runs

REPO = Path(__file__).resolve().parents[2]
SCORERS = '''\
from workbench.core.scorers import scorer


@scorer(name="brevity", direction="minimize")
def characters(prompt, response):
    """Shorter is better."""
    return len(response)


def score_detail(prompt, response):
    """More distinct words is better."""
    return len(set(response.lower().split()))
'''
TOPICS = ["the sea", "Paris", "eggs", "numbers", "Python", "the fox", "water", "a poem", "the report", "bread",
          "friends", "tomorrow", "the river", "a house", "music", "the city"]
SHORT = "Yes."
LONG = "Here is a detailed answer, step by step, with examples and careful thought."
TRAIN = dict(model="", device="cpu", batch_size=4, learning_rate=1e-2, max_length=64, max_prompt_length=32,
             eval_every=0, checkpoint_every=0, eval_fraction=0.25, rpo_alpha=1.0, lora_r=8, max_grad_norm=0.0,
             scheduler="constant", warmup_ratio=0.0, eval_prompts=4, eval_max_new_tokens=16,
             eval_scorers={"brevity": "brevity", "detail": "detail"})


def labelled_records(scorers_file: Path) -> list[PreferenceRecord]:
    """Both objectives label every (SHORT, LONG) pair with their own scorer: the winners are opposite."""
    by_name = {s.name: s for s in load_user_scorers(scorers_file)}
    records = []
    for topic in TOPICS:
        prompt = f"Tell me about {topic}."
        for objective in ("brevity", "detail"):
            s = by_name[objective]
            a, b = s(prompt, SHORT), s(prompt, LONG)
            short_wins = a < b if s.direction == "minimize" else a > b
            chosen, rejected = (SHORT, LONG) if short_wins else (LONG, SHORT)
            records.append(PreferenceRecord(prompt, chosen, rejected, objective))
    return records


@pytest.fixture()
def project_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)  # workers run `python -m workbench`
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # workers run one after another; extra threads only contend
    scorers = tmp_path / "scorers.py"
    scorers.write_text(SCORERS, encoding="utf-8")
    records = labelled_records(scorers)
    assert {(r.objective, r.chosen) for r in records} == {("brevity", SHORT), ("detail", LONG)}
    project = create_project(tmp_path / "p.sqlite")
    with project.session() as s:
        import_records(s, records, default_objective=None, source="test")
    project.close()
    TrustBook().trust(tmp_path / "p.sqlite", file_sha256(scorers))  # the user trusted the project's scorers
    return tmp_path / "p.sqlite"


def _train_adapter(model_dir: Path, data_dir: Path, objective: str, steps: int) -> Path:
    """An earlier single-objective run, trained in-process (a fixture; the sweep itself trains nothing)."""
    from workbench.training.engine.trainer import Trainer

    cfg = RunConfig(**{**TRAIN, "model": str(model_dir), "objectives": [objective], "max_steps": steps})
    run_dir = data_dir / f"earlier-{objective}"
    run_dir.mkdir()
    rows = [json.loads(x) for x in (data_dir / "data.jsonl").read_text().splitlines()]
    (run_dir / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    trainer = Trainer(cfg, run_dir)
    trainer.prepare()
    trainer.run()
    return run_dir / "checkpoints" / f"step-{steps}"


def _stored_vectors(project_file: Path, cfg: RunConfig, objectives: list[str]) -> list[tuple[dict, list[float]]]:
    """(weights, reward vector) of every stored evaluation point, rebuilt from the evaluation rows."""
    project = open_project(project_file)
    with project.session() as s:
        rows = list_evaluations(s)
    project.close()
    points: dict[str, dict[str, float]] = {}
    for e in rows:
        if e.weights is not None:
            points.setdefault(json.dumps(e.weights, sort_keys=True), {})[
                f"{e.objective}/{e.metric}" if e.objective else e.metric] = e.value
    return [(json.loads(k), reward_vector(v, objectives, cfg)) for k, v in points.items()]


def _assert_extremes_trade_off(result, *, best_overall: bool) -> None:
    """The all-on-k point is strictly better on objective k than the all-on-the-other point; with
    `best_overall` it is also best (ties allowed: a mixture may give the same answers) among all points and on
    the front."""
    vectors = np.array([p.vector for p in result.points])
    signs = np.array([1.0 if d == "maximize" else -1.0 for d in result.directions])
    ends = [next(i for i, p in enumerate(result.points) if p.weights.get(o) == 1.0) for o in result.objectives]
    for m, extreme in enumerate(ends):
        assert signs[m] * vectors[extreme, m] > signs[m] * vectors[ends[1 - m], m], vectors
        if best_overall:
            assert all(signs[m] * vectors[extreme, m] >= signs[m] * v for v in vectors[:, m]), vectors
            assert extreme in result.front, (result.front, vectors)


def test_soup_sweep_stores_a_front_where_extreme_weights_win(project_file, tiny_model_dir, tmp_path):
    from workbench.store.exports import export_run_data

    project = open_project(project_file)
    with project.session() as s:
        export_run_data(s, [], tmp_path / "data.jsonl", eval_fraction=0.25, seed=0)
    project.close()
    adapters = {o: str(_train_adapter(tiny_model_dir, tmp_path, o, 80)) for o in ("brevity", "detail")}
    cfg = RunConfig(**{**TRAIN, "name": "soup", "model": str(tiny_model_dir), "method": "soup",
                       "soup_adapters": adapters})
    lines: list[str] = []
    result = run_sweep(project_file, cfg, points=3, progress=lines.append)

    assert result.objectives == ["brevity", "detail"] and result.directions == ["minimize", "maximize"]
    base = result.points[0]  # the untrained base model is a point of every front (issue 11, item 5)
    assert base.base and base.weights == {} and not any(p.base for p in result.points[1:])
    assert [p.weights for p in result.points[1:]] == weight_grid(["brevity", "detail"], 3)
    _assert_extremes_trade_off(result, best_overall=True)
    short = next(p for p in result.points if p.weights.get("brevity") == 1.0)
    assert short.vector[0] == len(SHORT)  # λ=(1,0) is exactly the brevity adapter: it answers "Yes."
    assert result.front == [int(i) for i in np.flatnonzero(non_dominated([p.vector for p in result.points],
                                                                          result.directions))]
    # the reference point is the base model's reward vector, stored in the project (issue 11, item 4)
    assert result.reference == base.vector
    assert result.hypervolume == hypervolume([p.vector for p in result.points], base.vector, result.directions) > 0
    assert result.hypervolume_text.startswith(f"hypervolume {result.hypervolume:.4g} (reference point: brevity · "
                                              f"score {base.vector[0]:.4g} (base model)")
    # everything is in the store: one soup run (no training), finished, its three evaluated mixtures
    project = open_project(project_file)
    with project.session() as s:
        runs = list_runs(s)
        assert list_checkpoints(s, runs[0].id) == []
    project.close()
    assert [(r.status, r.config["method"]) for r in runs] == [("finished", "soup")]
    stored = _stored_vectors(project_file, cfg, result.objectives)
    assert sorted(map(json.dumps, (w for w, _ in stored))) == sorted(json.dumps(p.weights) for p in result.points
                                                                     if not p.base)
    for weights, vector in stored:
        point = next(p for p in result.points if p.weights == weights)
        assert vector == pytest.approx(point.vector) and not any(math.isnan(v) for v in vector)
    assert any("point 3/3" in line for line in lines)  # worker progress reached the caller
    table = result.table()
    assert table.splitlines()[0].split()[:4] == ["point", "weights", "brevity↓", "detail↑"]


def test_mah_dpo_sweep_trains_once_and_stores_each_mixture(project_file, tiny_model_dir):
    cfg = RunConfig(**{**TRAIN, "name": "heads", "model": str(tiny_model_dir), "method": "mah_dpo",
                       "max_steps": 200, "head_rank": 32})
    result = run_sweep(project_file, cfg, points=3, progress=lambda line: None)

    project = open_project(project_file)
    with project.session() as s:
        runs = list_runs(s)
        checkpoint = list_checkpoints(s, runs[0].id)[-1]
        mixtures = [e for e in list_evaluations(s, runs[0].id) if e.weights is not None]
    project.close()
    assert [(r.status, r.last_step) for r in runs] == [("finished", 200)]  # ONE training run for three points
    assert {p.run_id for p in result.points} == {runs[0].id}
    assert {p.checkpoint for p in result.points if not p.base} == {checkpoint.path}
    assert [p.base for p in result.points] == [True, False, False, False]
    assert all(e.checkpoint_id == checkpoint.id for e in mixtures)
    assert {json.dumps(e.weights, sort_keys=True) for e in mixtures} == \
        {json.dumps(w, sort_keys=True) for w in weight_grid(["brevity", "detail"], 3)}
    values = {(json.dumps(e.weights, sort_keys=True), e.objective, e.metric) for e in mixtures}
    assert len(values) == 3 * 8  # accuracy, margin, score per objective + kl + length, per mixture
    # 200 steps of a 64-wide random model: the heads separate the styles (all-brevity answers "Yes.", all-detail
    # writes on), while the 50/50 mixture is not reliably between them, so only the extremes are compared
    _assert_extremes_trade_off(result, best_overall=False)


def test_weight_grid_is_the_simplex_lattice():
    assert weight_grid(["a", "b"], 3) == [{"a": 1.0, "b": 0.0}, {"a": 0.5, "b": 0.5}, {"a": 0.0, "b": 1.0}]
    three = weight_grid(["a", "b", "c"], 3)
    assert len(three) == 6 and all(abs(sum(w.values()) - 1) < 1e-12 for w in three)  # C(3+3-2, 2)
    assert sorted(tuple(w.values()) for w in three) == sorted(
        [(1, 0, 0), (0, 1, 0), (0, 0, 1), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)])
    assert len(weight_grid(["a", "b", "c"], 5)) == 15
    assert weight_grid(["a", "b"], 1) == [{"a": 0.5, "b": 0.5}] and weight_grid(["a"], 4) == [{"a": 1.0}]


def test_reward_vector_directions_and_reference_point(tmp_path):
    from workbench.cli.sweep_grid import reward_directions
    from workbench.core.scorers import scorer_registry

    cfg = RunConfig(eval_scorers={"brevity": "brevity"})
    values = {"brevity/score": 4.0, "brevity/accuracy": 0.9, "detail/accuracy": 0.75, "detail/score": 99.0}
    assert reward_vector(values, ["brevity", "detail"], cfg) == [4.0, 0.75]  # score if scored, else accuracy
    assert math.isnan(reward_vector({}, ["brevity"], cfg)[0])
    (tmp_path / "scorers.py").write_text(SCORERS, encoding="utf-8")
    registry = scorer_registry(tmp_path / "scorers.py")
    assert reward_directions(["brevity", "detail"], cfg, registry) == ["minimize", "maximize"]
    assert reward_axes(["brevity", "detail"], cfg) == ["brevity · score", "detail · accuracy"]


@pytest.fixture()
def fake_workers(monkeypatch: pytest.MonkeyPatch) -> tuple[list[RunConfig], list[tuple]]:
    """The sweep's two worker launches replaced by recorders: training returns run i at step 3, evaluation
    returns fixed scores per run (run 2 dominated by run 1), in reverse order (arrival order must not matter)."""
    from workbench.cli import sweep as sweep_module
    from workbench.cli.eval_cmd import EvalPoint
    from workbench.core.entities import Run

    trained: list[RunConfig] = []
    evaluated: list[tuple] = []

    def fake_train(project, cfg, runs_root, progress):
        trained.append(cfg)
        run_id = len(trained)
        return Run(id=run_id, name=cfg.name, config=cfg.to_dict(), status="finished",
                   run_dir=str(runs_root / str(run_id))), "checkpoints/step-3"

    def fake_eval(project, jobs, weights, *, progress, remote_code_models=(), base=False):
        from workbench.store.hv_reference import remember_base

        evaluated.append((jobs, weights))
        scores = {1: (2.0, 2.0), 2: (6.0, 1.0), 3: (10.0, 10.0)}
        points = [EvalPoint(run_id, c, None, {"brevity/score": scores[(run_id - 1) % 3 + 1][0],
                                              "detail/score": scores[(run_id - 1) % 3 + 1][1]})
                  for run_id, _, c in reversed(jobs)]
        if base:  # the base model (14, -3.5); ingestion stores it as the reference point, as the real one does
            with project.session() as s:
                remember_base(s, {"brevity · score": 14.0, "detail · score": -3.5})
            points.insert(0, EvalPoint(jobs[0][0], None, None, {"brevity/score": 14.0, "detail/score": -3.5}, True))
        return points

    monkeypatch.setattr(sweep_module, "train_point", fake_train)
    monkeypatch.setattr(sweep_module, "run_eval_worker", fake_eval)
    return trained, evaluated


def test_weighted_sweep_trains_one_run_per_vector_and_evaluates_them_together(project_file, fake_workers):
    trained, evaluated = fake_workers
    cfg = RunConfig(**{**TRAIN, "name": "w", "model": "m", "method": "weighted"})
    result = run_sweep(project_file, cfg, points=3, progress=lambda line: None)
    assert [c.weights for c in trained] == weight_grid(["brevity", "detail"], 3)
    assert [c.name for c in trained] == ["w brevity=1.00 detail=0.00", "w brevity=0.50 detail=0.50",
                                         "w brevity=0.00 detail=1.00"]
    assert len(evaluated) == 1 and evaluated[0][1] is None  # ONE eval worker, each checkpoint as trained
    assert [j[0] for j in evaluated[0][0]] == [1, 2, 3]
    assert [(p.run_id, p.base) for p in result.points] == [(1, True), (1, False), (2, False), (3, False)]
    assert [p.vector for p in result.points] == [[14.0, -3.5], [2.0, 2.0], [6.0, 1.0], [10.0, 10.0]]
    assert result.front == [1, 3]
    # reference = the base model (14, -3.5); boxes 12 x 5.5 and 4 x 13.5 overlap in 4 x 5.5
    assert result.reference == [14.0, -3.5] and result.hypervolume == pytest.approx(66 + 54 - 22)


def test_sweep_command_prints_table_and_front(project_file, fake_workers, tmp_path, capsys):
    from workbench.cli import sweep as sweep_module

    config = tmp_path / "run.toml"
    config.write_text('[run]\nmethod = "weighted"\nmodel = "m"\neval_scorers = {brevity = "brevity", '
                      'detail = "detail"}\n', encoding="utf-8")
    parser = argparse.ArgumentParser()
    sweep_module.add_arguments(parser)
    assert sweep_module.run(parser.parse_args([str(project_file), "--config", str(config), "--points", "3"])) == 0
    out = capsys.readouterr().out.splitlines()
    table = out[next(i for i, line in enumerate(out) if line.split()[:1] == ["point"]):]
    assert [line.split()[0] for line in table[1:5]] == ["base", "*", "run", "*"]  # base and run 2 are dominated
    assert table[5] == ("front: 2 of 4 points; hypervolume 98 (reference point: brevity · score 14 (base model), "
                        "detail · score -3.5 (base model))")
    # --reference sets the project's reference point for an objective (stored): (20, -3.5) gives 18 x 5.5 +
    # 10 x 13.5 - 10 x 5.5
    args = parser.parse_args([str(project_file), "--config", str(config), "--points", "3", "--reference", "brevity=20"])
    assert sweep_module.run(args) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "front: 2 of 4 points; hypervolume 179 (reference point: brevity · score 20 (set by user), detail · score "
        "-3.5 (base model))")
    config.write_text("[run]\nmethod = 3 = 4\n", encoding="utf-8")
    with pytest.raises(InputError, match="cannot read the run settings"):
        sweep_module.run(parser.parse_args([str(project_file), "--config", str(config)]))


def test_modpo_sweep_leaves_out_vectors_without_target_weight():
    from workbench.cli.sweep import sweep_weights

    cfg = RunConfig(method="modpo", modpo_target="detail")
    assert sweep_weights(cfg, ["brevity", "detail"], 3) == [{"brevity": 0.5, "detail": 0.5},
                                                            {"brevity": 0.0, "detail": 1.0}]
