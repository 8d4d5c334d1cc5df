"""Evaluation with reward-guided decoding (RunConfig.eval_guide): the evaluation's answers are the PRM step search's
(seeded per prompt), and the values computed on them (scores, length) follow."""

from __future__ import annotations

import dataclasses

import pytest

from tests.inference.guided_fixtures import make_prm_checkpoint
from tests.training.test_evaluate import _data, _policy
from workbench.core.errors import RunError
from workbench.core.scorers import Scorer
from workbench.inference.generation import GenerationSettings
from workbench.inference.guided_decoding import SearchSettings, step_search
from workbench.inference.guided_eval import generate_guided
from workbench.inference.prm_scoring import PRMScorer
from workbench.training.engine.data import _as_text
from workbench.training.evaluation.evaluate import evaluate_policy, evaluation_prompts, generate_greedy


@pytest.fixture(scope="module")
def prm(tiny_model_dir, tmp_path_factory):
    return make_prm_checkpoint(tiny_model_dir, tmp_path_factory.mktemp("prm") / "step-1", separator=" ")


def test_evaluation_answers_are_the_guided_ones(tiny_model_dir, prm):
    cfg, model, tok = _policy(tiny_model_dir)
    guide = {"mode": "prm_steps", "checkpoint": str(prm), "k": 3, "max_steps": 3, "max_step_tokens": 4}
    cfg = dataclasses.replace(cfg, eval_guide=guide, seed=5)
    rows, data = _data(tok)
    prompts = evaluation_prompts(rows, 3)
    gen = generate_guided(model, tok, prompts, cfg)
    scorer = PRMScorer(prm, device="cpu")
    for i, (prompt, ids) in enumerate(zip(prompts, gen.prompt_ids)):
        direct = step_search(model, tok, ids, _as_text(prompt), scorer,
                             GenerationSettings(temperature=1.0, top_p=1.0, max_new_tokens=10, seed=5 + i),
                             SearchSettings(k=3, max_steps=3, max_step_tokens=4, separator=" "))
        assert gen.response_ids[i] == direct.ids and gen.texts[i] == direct.text
        assert gen.lengths[i] == len(direct.ids) - (direct.finish == "eos")
    greedy = generate_greedy(model, tok, prompts, max_new_tokens=10, batch_size=3)
    assert gen.texts != greedy.texts
    chars = Scorer("chars", lambda p, r, m: len(r))
    values = evaluate_policy(model, tok, data, None, prompts, cfg, {"detail": chars})
    assert values["detail/score"] == sum(len(t) for t in gen.texts) / len(prompts)
    assert values["length"] == sum(gen.lengths) / len(prompts)


def test_a_bad_eval_guide_fails_in_words(tiny_model_dir, tmp_path):
    cfg, model, tok = _policy(tiny_model_dir)
    cfg = dataclasses.replace(cfg, eval_guide={"mode": "prm_steps", "checkpoint": str(tmp_path / "gone")})
    with pytest.raises(RunError, match="is not a folder"):
        generate_guided(model, tok, ["Hi."], cfg)
