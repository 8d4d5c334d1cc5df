"""`workbench round`: a three-round scorer-labelled loop end to end through the CLI (each round's adapter starts
from the previous round's checkpoint, pairs tagged with their round, per-round reward vectors stored), anchored
rejection taking rejected answers from the round-0 model, and a crash mid-generation resuming without duplicates."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.cli.cli_testing import ROOT, workbench
from tests.training.conftest import tiny_model_dir, tiny_rows  # noqa: F401 - the session-scoped model fixture
from workbench.core.loop_config import load_loop_config
from workbench.store.db import create_project, open_project
from workbench.store.objectives import add_objective
from workbench.store.pairs import add_prompt

LOOP = """
[run]
model = "{model}"
device = "cpu"
method = "dpo"
batch_size = 4
max_steps = 2
learning_rate = 0.02
max_length = 48
max_prompt_length = 24
eval_every = 0
checkpoint_every = 2
eval_fraction = 0.0
eval_scorers = {{brevity = "brevity", detail = "detail"}}
eval_max_new_tokens = 6
active_candidates = 0

[round]
prompts_per_round = 3
samples = 3
max_new_tokens = 6
temperature = 1.0
eval_prompts = 2
policy = "{policy}"
labeller = "scorers"
label_scorers = {{brevity = "brevity", detail = "detail"}}
"""


def _project(folder: Path, model: Path, policy: str = "anchored") -> Path:
    folder.mkdir()
    project = create_project(folder / "p.sqlite")
    with project.session() as s:
        add_objective(s, "brevity", "", "minimize")
        add_objective(s, "detail", "", "maximize")
        for row in tiny_rows()[::2]:  # 12 prompts
            add_prompt(s, row["prompt"])
    project.close()
    shutil.copy(ROOT / "resources" / "demo" / "scorers.py", folder / "scorers.py")
    (folder / "loop.toml").write_text(LOOP.format(model=model, policy=policy), encoding="utf-8")
    return folder / "p.sqlite"


def _rows(path: Path, sql: str) -> list[tuple]:
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.mark.slow
def test_three_scorer_rounds_end_to_end(tiny_model_dir, tmp_path) -> None:
    path = _project(tmp_path / "loop", tiny_model_dir)
    result = workbench("round", str(path), "--config", str(path.parent / "loop.toml"), "--rounds", "3",
                       "--trust-scorers", env={"OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stdout
    table = result.stdout.strip().splitlines()[-4:]
    assert table[0].split()[:3] == ["round", "steps", "pairs"]
    assert [line.split()[:2] for line in table[1:]] == [["1", "GLTE"], ["2", "GLTE"], ["3", "GLTE"]]

    rounds = _rows(path, "SELECT id, number, settings FROM round ORDER BY number")
    assert [r[1] for r in rounds] == [1, 2, 3]
    prompts = [json.loads(r[2])["prompt_ids"] for r in rounds]
    assert prompts == [[3, 4, 5], [6, 7, 8], [9, 10, 11]]  # prompts 1, 2 are the fixed evaluation set
    runs = _rows(path, "SELECT id, round_id, config, run_dir FROM run ORDER BY id")
    assert [r[1] for r in runs] == [r[0] for r in rounds]  # one run per round, tagged with it
    # each round's adapter starts from the previous round's final checkpoint; round 1 from a fresh adapter
    init = [json.loads(r[2])["init_adapter"] for r in runs]
    folder = path.parent  # run folders are stored relative to the project's folder (issue #12)
    assert init == ["", str(folder / runs[0][3] / "checkpoints" / "step-2"),
                    str(folder / runs[1][3] / "checkpoints" / "step-2")]
    first_loss = [_rows(path, f"SELECT value FROM metric WHERE run_id = {r[0]} AND key = 'loss' AND step = 1")[0][0]
                  for r in runs]
    assert first_loss[0] == pytest.approx(math.log(2), abs=1e-4)  # fresh adapter: policy == reference
    assert all(abs(loss - math.log(2)) > 1e-3 for loss in first_loss[1:])  # continued adapters are not the base

    # pairs are tagged with their round, built only from that round's prompts, and automatically labelled
    for (round_id, number, _), ids in zip(rounds, prompts):
        pairs = _rows(path, f"SELECT prompt_id, extra FROM pair WHERE round_id = {round_id}")
        assert pairs and {p[0] for p in pairs} <= set(ids)
        assert all(json.loads(p[1])["round"] == number for p in pairs)
        labels = _rows(path, "SELECT count(*) FROM label JOIN annotator ON annotator.id = label.annotator_id "
                             f"WHERE annotator.name LIKE 'auto:scorer:%' AND pair_id IN "
                             f"(SELECT id FROM pair WHERE round_id = {round_id})")[0][0]
        assert labels >= len(pairs)
    # the per-round reward vector on the fixed evaluation prompts is stored for each round's final checkpoint
    for run_id, *_ in runs:
        values = dict(_rows(path, "SELECT objective || '/' || metric, value FROM evaluation "
                                  f"WHERE run_id = {run_id} AND checkpoint_id IS NOT NULL"))
        assert {"brevity/score", "detail/score", "/kl", "/length"} <= set(values)
        assert 0 <= values["/length"] <= 6

    # anchored rejection: from round 2 on, every pair's rejected side is an answer of the round-0 (base) model
    for round_id, number, _ in rounds[1:]:
        samples = [json.loads(x) for x in
                   (path.parent / "p.rounds" / f"round-{number}" / "samples.jsonl").read_text().splitlines()]
        anchor = {(s["prompt_id"], t) for s in samples if s["source"] == "anchor" for t in s["texts"]}
        policy = {(s["prompt_id"], t) for s in samples if s["source"] == "policy" for t in s["texts"]}
        for prompt_id, extra, a_text, b_text in _rows(path, (
                "SELECT pair.prompt_id, pair.extra, a.text, b.text FROM pair JOIN response a ON a.id = "
                "pair.response_a_id JOIN response b ON b.id = pair.response_b_id "
                f"WHERE pair.round_id = {round_id}")):
            for objective, side in json.loads(extra)["chosen"].items():
                chosen, rejected = (a_text, b_text) if side == "a" else (b_text, a_text)
                assert (prompt_id, rejected) in anchor, objective
                assert (prompt_id, chosen) in policy, objective

    status = workbench("round", str(path), "--status")
    assert status.returncode == 0 and status.stdout.strip().splitlines()[-3:] == table[1:]


def test_anchor_samples_come_from_the_base_model(tiny_model_dir, tmp_path) -> None:
    """The anchor source is the round-0 model: the policy's base with its adapter disabled gives exactly the
    answers the plain base model samples with the same seed."""
    from workbench.core.run_config import RunConfig
    from workbench.inference.round_samples import _Models, _sample
    from workbench.training.preference.steerable import load_steerable

    cfg = RunConfig(model=str(tiny_model_dir), device="cpu", lora_r=4, seed=3)
    # a trained-looking adapter: non-zero LoRA B so the policy differs from the base
    from workbench.training.engine.checkpoint import Position, save_checkpoint
    from workbench.training.engine.lora import attach_lora
    from workbench.training.engine.model_loading import load_model

    import torch

    model = attach_lora(load_model(cfg, for_training=True).model, cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    ckpt = tmp_path / "run"
    save_checkpoint(ckpt, model, opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0), Position(step=1))
    settings = {"max_new_tokens": 8, "temperature": 1.0, "top_p": 1.0}
    models = _Models({"run_config": cfg.to_dict(), "policy_checkpoint": str(ckpt / "checkpoints" / "step-1")})
    policy, _ = models.get("policy")
    anchor, context = models.get("anchor")
    with context:
        anchored = _sample(anchor, "Tell me about the sea.", k=3, settings=settings, seed=11)
    base = _sample(load_steerable(cfg, None), "Tell me about the sea.", k=3, settings=settings, seed=11)
    trained = _sample(policy, "Tell me about the sea.", k=3, settings=settings, seed=11)
    assert anchored == base
    assert trained != base


def test_crash_mid_generation_resumes_without_duplicates(tiny_model_dir, tmp_path) -> None:
    from workbench.cli import round_steps
    from workbench.core.run_config import RunConfig
    from workbench.inference.round_samples import SAMPLES_FILE, generate_round
    from workbench.store.rounds import round_pair_ids

    from workbench.cli.consent import trust_files

    path = _project(tmp_path / "loop", tiny_model_dir, policy="best_worst")
    trust_files(path)  # scorer labels: the project's scorers.py, trusted as --trust-scorers would
    project = open_project(path)
    try:
        cfg, settings = load_loop_config(path.parent / "loop.toml")
        rnd = round_steps.start_round(project, cfg, settings)
        folder = round_steps.write_generate_spec(project, rnd)
        reference = tmp_path / "uninterrupted"
        shutil.copytree(folder, reference)
        generate_round(reference, lambda *a, **k: None, lambda: False)

        calls = []

        def crash() -> bool:  # the process dies while the second prompt is being written
            calls.append(1)
            if len(calls) == 2:
                raise KeyboardInterrupt
            return False

        with pytest.raises(KeyboardInterrupt):
            generate_round(folder, lambda *a, **k: None, crash)
        with open(folder / SAMPLES_FILE, "a", encoding="utf-8") as fh:
            fh.write('{"prompt_id": 4, "source": "pol')  # a torn line, as a kill during the write leaves it
        assert len((folder / SAMPLES_FILE).read_text().splitlines()) == 2

        assert round_steps.run_step(project, rnd, "generate", progress=lambda _line: None)
        lines = (folder / SAMPLES_FILE).read_text().splitlines()
        assert lines == (reference / SAMPLES_FILE).read_text().splitlines()  # same samples as without the crash
        assert len(lines) == 3 and len({(json.loads(x)["prompt_id"], json.loads(x)["source"]) for x in lines}) == 3
        with project.session() as s:
            pairs = round_pair_ids(s, rnd.id)
        assert 1 <= len(pairs) <= 3 * 2  # at most one pair per prompt and objective

        # repeating the step (a crash after sampling, before it was marked done) adds no pair and no response
        responses = _rows(path, "SELECT count(*) FROM response")[0][0]
        assert round_steps.store_pairs(project, rnd) == len(pairs)
        assert _rows(path, "SELECT count(*) FROM response")[0][0] == responses
        with project.session() as s:
            assert round_pair_ids(s, rnd.id) == pairs
        assert RunConfig.from_dict(rnd.run_config).model == str(tiny_model_dir)
    finally:
        project.close()


def test_readable_errors_without_rounds_or_settings(tiny_model_dir, tmp_path) -> None:
    path = _project(tmp_path / "loop", tiny_model_dir)
    no_config = workbench("round", str(path))
    assert no_config.returncode == 1 and "Traceback" not in no_config.stderr
    assert "no rounds yet: give --config loop.toml" in no_config.stderr
    train_first = workbench("round", str(path), "--step", "train")
    assert train_first.returncode == 1
    assert "no round in progress to train: start one with --step generate --config loop.toml" in train_first.stderr
    bad = path.parent / "bad.toml"
    bad.write_text("[round]\nsamples = 1\npolicy = 'best'\n", encoding="utf-8")
    refused = workbench("round", str(path), "--config", str(bad))
    assert refused.returncode == 1
    assert "policy must be one of best_worst" in refused.stderr and "samples must be at least 2" in refused.stderr
    assert _rows(path, "SELECT count(*) FROM round")[0][0] == 0


def test_human_round_waits_for_people_then_closes_labelling(tiny_model_dir, tmp_path) -> None:
    from workbench.cli import round_steps
    from workbench.core.rounds import RoundSettings
    from workbench.store.annotators import get_or_create_annotator
    from workbench.store.labels import add_label
    from workbench.store.objectives import list_objectives
    from workbench.store.rounds import get_round, round_pair_ids, round_stats

    path = _project(tmp_path / "loop", tiny_model_dir)
    project = open_project(path)
    try:
        cfg, _ = load_loop_config(path.parent / "loop.toml")
        settings = RoundSettings(prompts_per_round=2, samples=2, max_new_tokens=6, temperature=1.0, eval_prompts=2,
                                 labeller="human")
        rnd = round_steps.start_round(project, cfg, settings)
        lines: list[str] = []
        assert round_steps.run_step(project, rnd, "generate", lines.append)
        with project.session() as s:
            pairs = round_pair_ids(s, rnd.id)
        assert len(pairs) == 2  # one pair per prompt for people, labelled for every objective
        assert not round_steps.run_step(project, rnd, "label", lines.append)
        assert lines[-1] == ("round 1: 0 automatic labels; 0 of 2 pairs labelled; 2 wait for people in the Label "
                             "panel (order: 2 in generation order (round 1 was sampled by the base model, which has "
                             "no run))")
        with project.session() as s:
            alice = get_or_create_annotator(s, "alice").id
            for pid in pairs:
                for objective in list_objectives(s):
                    add_label(s, pid, objective.id, alice, "a")
        assert round_steps.run_step(project, rnd, "label", lines.append)
        with project.session() as s:
            stats = round_stats(s, get_round(s, 1))
        assert (stats.pairs, stats.human_labels, stats.auto_labels, stats.gap) == (2, 4, 0, {})
        assert stats.done == {"generate": True, "label": True}
    finally:
        project.close()


def test_scorer_rounds_wait_for_trust_in_the_projects_scorers(tiny_model_dir, tmp_path) -> None:
    """Issue #12 × #15: a round labels with the project's scorers.py only once it is trusted (--trust-scorers or
    the application's dialog); before, it says why in one line, with no traceback and no pair stored."""
    path = _project(tmp_path / "loop", tiny_model_dir)
    result = workbench("round", str(path), "--config", str(path.parent / "loop.toml"), "--rounds", "1",
                       env={"OMP_NUM_THREADS": "1"})
    assert result.returncode != 0
    assert "has not been trusted" in result.stderr and "--trust-scorers" in result.stderr
    assert "Traceback" not in result.stderr
    assert _rows(path, "SELECT count(*) FROM pair WHERE round_id IS NOT NULL") == [(0,)]


def test_round_2_pairs_carry_the_parent_policys_margin_and_label_in_its_order(tmp_path) -> None:
    """Generation from round 2 on writes each answer's implicit reward under the round's policy (the parent run's
    checkpoint); storing the samples gives each pair margin r_a − r_b, and the Label step asks for the pairs with
    the smallest |margin| first, as `--step label` says."""
    from workbench.cli import round_steps
    from workbench.core.rounds import RoundSettings
    from workbench.store.round_label import round_label_queue
    from workbench.store.rounds import attach_run, create_round, get_round, mark_done
    from workbench.store.runs import create_run

    project = create_project(tmp_path / "p.sqlite")
    try:
        with project.session() as s:
            add_objective(s, "helpful")
            prompts = [add_prompt(s, f"q{i}").id for i in range(3)]
            config = {"model": "m", "objectives": ["helpful"]}
            r1 = create_round(s, RoundSettings(labeller="human"), config, prompts, [], tmp_path / "rounds")
            attach_run(s, r1.id, create_run(s, "round 1", {}, str(tmp_path / "run-1")).id)
            for step in ("generate", "label", "train", "evaluate"):
                mark_done(s, r1.id, step)
            r2 = create_round(s, RoundSettings(labeller="human", samples=3), config, prompts, [],
                              tmp_path / "rounds")
        rewards = {prompts[0]: [0.5, -0.5, 0.0], prompts[1]: [0.1, 0.05, 9.0], prompts[2]: [2.0, 1.0, 0.0]}
        lines = [{"prompt_id": p, "source": "policy", "texts": [f"{p} x", f"{p} yy", f"{p} zzz"], "seed": 1,
                  "rewards": rewards[p]} for p in prompts]
        (Path(r2.folder) / "samples.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        with project.session() as s:
            rnd = get_round(s, 2)
        assert round_steps.store_pairs(project, rnd) == 3
        margins = dict(_rows(project.path, "SELECT prompt_id, json_extract(extra, '$.margin') FROM pair "
                                           f"WHERE round_id = {r2.id}"))
        assert margins == {prompts[0]: pytest.approx(1.0), prompts[1]: pytest.approx(0.05),
                           prompts[2]: pytest.approx(1.0)}
        with project.session() as s:
            queue = round_label_queue(s, 2)
            by_prompt = dict(_rows(project.path, f"SELECT id, prompt_id FROM pair WHERE round_id = {r2.id}"))
        assert [by_prompt[p] for p in queue.pair_ids] == [prompts[1], prompts[0], prompts[2]]
        said: list[str] = []
        assert round_steps.step_label(project, rnd, said.append) == 3
        assert said == ["round 2: 0 automatic labels; 0 of 3 pairs labelled; 3 wait for people in the Label panel "
                        "(order: 3 by run 1's margins (smallest first))"]
    finally:
        project.close()


@pytest.mark.slow
def test_a_trained_reward_model_labels_a_round(tiny_model_dir, tmp_path) -> None:
    """RoundSettings.label_reward_model: the vector reward model is the round's automatic labeller (issue #15's
    'model-labelled rounds', once #17's reward model exists): every pair is labelled for every objective by
    'auto:reward_model:<checkpoint>', on the side the model rewards more; no scorer functions are needed."""
    from workbench.cli import round_steps
    from workbench.core.rounds import RoundSettings
    from tests.training.conftest import train_tiny_rm
    from workbench.inference.reward_scoring import VectorRM
    from workbench.store.rounds import round_pair_ids

    checkpoint = train_tiny_rm(tiny_model_dir, tmp_path / "0009-rm", 3)

    path = _project(tmp_path / "loop", tiny_model_dir)
    project = open_project(path)
    try:
        cfg, _ = load_loop_config(path.parent / "loop.toml")
        settings = RoundSettings(prompts_per_round=2, samples=3, max_new_tokens=6, temperature=1.0, eval_prompts=2,
                                 labeller="scorers", label_reward_model=str(checkpoint))
        assert settings.problems(["brevity", "detail"]) == []  # no label_scorers needed
        rnd = round_steps.start_round(project, cfg, settings)
        lines: list[str] = []
        assert round_steps.run_step(project, rnd, "generate", lines.append)
        assert round_steps.run_step(project, rnd, "label", lines.append)
        with project.session() as s:
            pairs = round_pair_ids(s, rnd.id)
        labels = _rows(path, "SELECT l.pair_id, o.name, a.name, l.choice, ra.text, rb.text, pr.text FROM label l "
                             "JOIN objective o ON o.id = l.objective_id JOIN annotator a ON a.id = l.annotator_id "
                             "JOIN pair p ON p.id = l.pair_id JOIN response ra ON ra.id = p.response_a_id "
                             "JOIN response rb ON rb.id = p.response_b_id JOIN prompt pr ON pr.id = p.prompt_id")
    finally:
        project.close()
    assert pairs and len(labels) == 2 * len(pairs)  # every pair, both objectives
    assert {name for _, _, name, _, _, _, _ in labels} == {"auto:reward_model:step-3"}
    rm = VectorRM(checkpoint, device="cpu")
    col = {o: rm.objectives.index(o) for o in ("brevity", "detail")}
    for _, objective, _, choice, a, b, prompt in labels:
        r = rm.score([prompt, prompt], [a, b])[:, col[objective]]
        assert r[0] != r[1]
        assert choice == ("a" if r[0] > r[1] else "b")
