"""VectorRM (workbench.inference.reward_scoring): loading a reward-model checkpoint, batched scores that do not
depend on the batch, the encoding training used, the eval values, and readable refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.core.errors import RunError
from workbench.inference.reward_scoring import VectorRM, reward_values
from workbench.training.engine.data import PairRow, tokenize_pairs

from tests.training.conftest import train_tiny_rm


@pytest.fixture(scope="module")
def rm_checkpoint(tiny_model_dir, tmp_path_factory) -> Path:
    return train_tiny_rm(tiny_model_dir, tmp_path_factory.mktemp("rm") / "0003-rm", 6)


def test_scores_are_per_objective_and_independent_of_batching(rm_checkpoint):
    rm = VectorRM(rm_checkpoint, device="cpu")
    assert rm.objectives == ["brevity", "detail"]
    prompts = ["Tell me about eggs.", "Tell me about the sea.", "Tell me about Paris."]
    responses = ["It is eggs.", "Here is a detailed answer about the sea, step by step, with examples.", "Paris."]
    together = rm.score(prompts, responses)
    assert together.shape == (3, 2) and together.dtype == np.float64
    one_by_one = np.vstack([rm.score([p], [r], batch_size=1) for p, r in zip(prompts, responses)])
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    assert rm.score([], []).shape == (0, 2)
    with pytest.raises(ValueError, match="one prompt per response"):
        rm.score(prompts, responses[:2])
    # the trained model already ranks the short answer up on brevity and the long one up on detail
    assert together[0, 0] > together[1, 0] and together[1, 1] > together[0, 1]


def test_encoding_is_the_training_encoding(rm_checkpoint):
    rm = VectorRM(rm_checkpoint, device="cpu")
    row = PairRow(1, "brevity", "Tell me about eggs.", "It is eggs.", "Eggs are food.")
    data = tokenize_pairs([row], rm.tokenizer, max_length=64, max_prompt_length=32)
    assert rm.encode(row.prompt, row.chosen) == data.prompt_ids[0] + data.chosen_ids[0]
    assert rm.encode(row.prompt, row.rejected) == data.prompt_ids[0] + data.rejected_ids[0]
    long_prompt = "word " * 200  # training drops such a pair; scoring keeps the prompt's last tokens
    ids = rm.encode(long_prompt, "Yes.")
    assert len(ids) <= 64


def test_reward_values_are_mean_rewards_of_known_objectives(rm_checkpoint):
    prompts, texts = ["Tell me about eggs."] * 2, ["It is eggs.", "Eggs are good to eat every day."]
    values = reward_values(rm_checkpoint, prompts, texts, ["detail", "style"], device="cpu")
    expected = VectorRM(rm_checkpoint, device="cpu").score(prompts, texts)[:, 1].mean()
    assert list(values) == ["detail/reward"] and values["detail/reward"] == pytest.approx(expected, abs=1e-6)


def test_a_folder_that_is_not_a_reward_model_is_refused_with_advice(tmp_path, rm_checkpoint):
    with pytest.raises(RunError, match="not a reward-model checkpoint"):
        VectorRM(tmp_path, device="cpu")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "rm.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(RunError, match="damaged"):
        VectorRM(broken, device="cpu")
