"""The vector reward model as a scorer of generations (issue #17 item 4a): RunConfig.eval_reward_model makes an
evaluation report `<objective>/reward`, the RM's mean reward of the greedy answers, and sweeps use it as the
objective's reward axis when no eval scorer is set."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest

from tests.training.conftest import tiny_rows, train_tiny_rm
from tests.training.test_evaluate import _policy
from workbench.cli.sweep_grid import reward_axes, reward_metric, reward_vector
from workbench.core.run_config import RunConfig
from workbench.training.engine.data import TokenizedData
from workbench.training.evaluation.evaluate import evaluate_policy, generate_greedy


@pytest.fixture(scope="module")
def rm_checkpoint(tiny_model_dir, tmp_path_factory):
    return train_tiny_rm(tiny_model_dir, tmp_path_factory.mktemp("rm_eval") / "0004-rm", 3)


def test_evaluation_reports_the_reward_models_mean_reward_per_objective(tiny_model_dir, rm_checkpoint):
    from workbench.inference.reward_scoring import VectorRM

    cfg, model, tok = _policy(tiny_model_dir)
    cfg = dataclasses.replace(cfg, eval_reward_model=str(rm_checkpoint), device="cpu")
    prompts = ["Tell me about eggs.", "Tell me about Paris.", "Tell me about the sea."]
    values = evaluate_policy(model, tok, TokenizedData(), None, prompts, cfg, {})
    gen = generate_greedy(model, tok, prompts, max_new_tokens=cfg.eval_max_new_tokens, batch_size=cfg.batch_size)
    expected = VectorRM(rm_checkpoint, device="cpu").score(prompts, gen.texts).mean(axis=0)
    assert values["brevity/reward"] == pytest.approx(expected[0], abs=1e-6)
    assert values["detail/reward"] == pytest.approx(expected[1], abs=1e-6)
    # only the objectives the run is about: a run on `detail` alone gets no brevity reward
    only = evaluate_policy(model, tok, TokenizedData(), None, prompts[:1],
                           dataclasses.replace(cfg, objectives=["detail"]), {})
    assert "detail/reward" in only and "brevity/reward" not in only


def test_sweeps_take_the_reward_models_reward_as_the_objectives_axis():
    cfg = RunConfig(eval_scorers={"brevity": "length_words"}, eval_reward_model="/rm/step-9")
    assert [reward_metric(k, cfg) for k in ("brevity", "detail")] == ["score", "reward"]
    assert reward_vector({"brevity/score": 3.0, "detail/reward": 1.5, "detail/accuracy": 0.5},
                         ["brevity", "detail"], cfg) == [3.0, 1.5]
    assert reward_axes(["detail"], cfg) == reward_axes(["detail"], RunConfig(eval_reward_model="x"))
    plain = RunConfig()
    assert reward_metric("detail", plain) == "accuracy"
    assert math.isnan(reward_vector({}, ["detail"], cfg)[0])


def test_eval_worker_job_with_a_reward_model_reports_rewards(tiny_model_dir, rm_checkpoint, tmp_path):
    """`workbench worker eval --reward-model DIR` (EvalJob.reward_model): the job's eval event carries the rewards
    although the run's own config names no reward model."""
    from workbench.training.evaluation.eval_worker import EvalJob, run_job
    from workbench.training.engine.trainer import Trainer

    run_dir = tmp_path / "0005-dpo"
    run_dir.mkdir()
    (run_dir / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tiny_rows()), encoding="utf-8")
    cfg = RunConfig(model=str(tiny_model_dir), device="cpu", batch_size=4, max_steps=1, max_length=64,
                    max_prompt_length=32, eval_every=0, checkpoint_every=0, active_candidates=0, eval_prompts=2,
                    eval_max_new_tokens=4)
    cfg.save(run_dir / "config.json")
    trainer = Trainer(cfg, run_dir)
    trainer.prepare()
    trainer.run()
    durable: list = []
    job = EvalJob(run_dir, "checkpoints/step-1", reward_model=str(rm_checkpoint))
    assert run_job(job, lambda t, **d: durable.append((t, d)), lambda *_a, **_k: None, lambda: False)
    (values,) = [d["values"] for t, d in durable if t == "eval"]
    assert {"brevity/reward", "detail/reward", "brevity/accuracy"} <= set(values)
    plain: list = []
    run_job(EvalJob(run_dir, "checkpoints/step-1"), lambda t, **d: plain.append((t, d)), lambda *_a, **_k: None,
            lambda: False)
    assert not [k for t, d in plain if t == "eval" for k in d["values"] if k.endswith("/reward")]


def test_eval_worker_scores_generations_with_answer_correct_from_prompt_meta(tiny_model_dir, tmp_path):
    """The answer checker as a scorer on generations (issue #17 item 2): the eval worker gives each scorer the
    prompt's reference answer from prompt_meta.json; without it answer_correct could not score at all."""
    from workbench.core.prompt_meta import write_prompt_meta
    from workbench.training.evaluation.eval_worker import EvalJob, run_job
    from workbench.training.evaluation.evaluate import evaluation_prompts, generate_greedy
    from workbench.training.engine.data import read_run_data
    from workbench.training.engine.trainer import Trainer
    from workbench.core.answer_check import check_answer

    run_dir = tmp_path / "0006-dpo"
    run_dir.mkdir()
    (run_dir / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tiny_rows()), encoding="utf-8")
    cfg = RunConfig(model=str(tiny_model_dir), device="cpu", batch_size=4, max_steps=1, max_length=64,
                    max_prompt_length=32, eval_every=0, checkpoint_every=0, active_candidates=0, eval_prompts=2,
                    eval_max_new_tokens=4, objectives=["brevity"], eval_scorers={"brevity": "answer_correct"})
    cfg.save(run_dir / "config.json")
    trainer = Trainer(cfg, run_dir)
    trainer.prepare()
    trainer.run()
    prompts = evaluation_prompts(read_run_data(run_dir / "data.jsonl"), 2)
    gen = generate_greedy(trainer.model, trainer.tokenizer, prompts, max_new_tokens=4, batch_size=4)
    from workbench.core.answer_check import extract_answer
    from workbench.core.errors import InputError

    with pytest.raises(InputError, match="reference answer"):  # no prompt_meta.json: nothing to check against
        run_job(EvalJob(run_dir, "checkpoints/step-1"), lambda *_a, **_k: None, lambda *_a, **_k: None,
                lambda: False)
    # the first prompt's reference is what the model answers (when it answers anything), the second's is not
    answers = {prompts[0]: extract_answer(gen.texts[0]) or "no answer 777", prompts[1]: "no such answer 9999"}
    expected = sum(check_answer(t, answers[p]) for p, t in zip(prompts, gen.texts)) / 2
    write_prompt_meta(run_dir / "prompt_meta.json", {p: {"reference_answer": a} for p, a in answers.items()})
    durable: list = []
    assert run_job(EvalJob(run_dir, "checkpoints/step-1"), lambda t, **d: durable.append((t, d)),
                   lambda *_a, **_k: None, lambda: False)
    (values,) = [d["values"] for t, d in durable if t == "eval"]
    assert values["brevity/score"] == pytest.approx(expected)
