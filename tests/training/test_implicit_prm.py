"""The implicit PRM head (prm_head = "implicit"): the score by hand (beta x summed log-ratio of the adapter to the
base model over the solution's tokens up to the separator, + the bias), the bias's start and learning rate,
scoring = the run's evaluation, exact resume, and the settings' checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from tests.training.test_prm import _prm_run
from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig


def _trainer(tmp_path: Path, model_dir: Path, **overrides):
    from workbench.training.reward_models.prm_trainer import PRMTrainer

    run_dir, cfg = _prm_run(tmp_path, model_dir, prm_head="implicit", prm_beta=0.7, **overrides)
    trainer = PRMTrainer(cfg, run_dir)
    trainer.prepare()
    return trainer


def _token_logps(model, ids: list[int]) -> torch.Tensor:
    """log p(token t | tokens < t) for t = 1..T-1 from the full logits (no chunking, no masking)."""
    logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].float()
    return torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None])[:, 0]


def test_bias_starts_at_zero_learns_faster_and_the_untrained_score_is_the_bias(tmp_path: Path,
                                                                              tiny_model_dir: Path) -> None:
    from workbench.training.reward_models.prm_model import step_logits
    from workbench.training.reward_models.prm_trainer import IMPLICIT_BIAS_LR_SCALE

    trainer = _trainer(tmp_path, tiny_model_dir)
    assert float(trainer.head.bias.detach()) == 0.0
    groups = trainer.optimizer.param_groups
    assert [g["params"] for g in groups][1] == [trainer.head.bias]
    assert groups[1]["initial_lr"] == pytest.approx(IMPLICIT_BIAS_LR_SCALE * groups[0]["initial_lr"])
    with torch.no_grad():
        trainer.head.bias.fill_(0.3)
    with torch.no_grad():
        logits = step_logits(trainer.model, trainer.head, trainer.collate_batch(trainer.train_idx[:4]))
    # LoRA's B starts at zero: the adapter is the base model, every log-ratio is 0, every score the bias
    assert torch.equal(logits[:, 0], torch.zeros(len(logits)))
    assert torch.allclose(logits[:, 1], trainer.head.bias.detach().expand(len(logits)), atol=1e-6)


def test_score_and_loss_equal_a_hand_computation(tmp_path: Path, tiny_model_dir: Path) -> None:
    trainer = _trainer(tmp_path, tiny_model_dir, max_steps=3, eval_every=0, checkpoint_every=0)
    assert trainer.run() == "finished"  # a trained adapter: the log-ratios are no longer 0
    idx = trainer.train_idx[:3]
    loss, metrics = trainer.forward_loss(trainer.collate_batch(idx))
    total, count, right, moved = 0.0, 0, 0, 0.0
    with torch.no_grad():
        for i in idx:
            row = trainer.data.rows[i]
            policy = _token_logps(trainer.model, row.input_ids)
            with trainer.model.disable_adapter():
                ref = _token_logps(trainer.model, row.input_ids)
            ratio = (policy - ref).tolist()  # ratio[t - 1] belongs to token t
            for pos, label in zip(row.positions, row.labels, strict=True):
                s = sum(ratio[t - 1] for t in range(row.start, pos + 1))  # the steps' tokens up to the separator
                z = 0.7 * s + float(trainer.head.bias)
                p_good = 1 / (1 + math.exp(-z))
                total += -math.log(p_good if label == 1 else 1 - p_good)
                count += 1
                right += int((p_good >= 0.5) == bool(label))
                moved = max(moved, abs(s))
    assert moved > 1e-3  # the check would pass trivially on an untrained adapter
    assert count > 3 and row.start > 10  # the prompt's tokens are not summed
    assert float(loss.detach()) == pytest.approx(total / count, rel=1e-4)
    assert metrics["steps/accuracy"] == pytest.approx(right / count)


def test_scorer_equals_the_runs_evaluation_and_resume_is_exact(tmp_path: Path, tiny_model_dir: Path) -> None:
    from workbench.inference.prm_scoring import PRMScorer
    from workbench.training.reward_models.prm_data import read_steps_file
    from workbench.training.reward_models.prm_trainer import PRMTrainer

    trainer = _trainer(tmp_path, tiny_model_dir, max_steps=4)
    assert trainer.run() == "finished"
    folder = trainer.run_dir / "checkpoints" / "step-4"
    meta = json.loads((folder / "prm.json").read_text())
    assert meta["head"] == "implicit" and meta["prm_beta"] == 0.7
    rows = read_steps_file(trainer.run_dir / "steps.jsonl")
    eval_rows = [r for r in rows if r["split"] == "eval"]
    expected = trainer.scores(trainer.eval_idx)
    got = PRMScorer(folder, device="cpu").score_batch([(r["prompt"], r["completions"]) for r in eval_rows],
                                                      batch_size=4)
    assert len(got) == len(expected) == 6
    for g, (e, _) in zip(got, expected, strict=True):
        assert g == pytest.approx(e.tolist(), abs=1e-5)

    (tmp_path / "b").mkdir()
    run2, cfg2 = _prm_run(tmp_path / "b", tiny_model_dir, prm_head="implicit", prm_beta=0.7, max_steps=4)
    first = PRMTrainer(cfg2, run2, should_stop=lambda: first.pos.step >= 2)
    first.prepare()
    assert first.run() == "stopped"
    resumed = PRMTrainer(cfg2, run2)
    resumed.prepare(resume=True)
    assert resumed.pos.step == 2 and resumed.run() == "finished"
    assert float(resumed.head.bias) == pytest.approx(float(trainer.head.bias), abs=1e-6)
    lora = {n: p for n, p in trainer.model.named_parameters() if p.requires_grad}
    for n, p in resumed.model.named_parameters():
        if p.requires_grad:
            assert torch.allclose(p, lora[n], atol=1e-6), n


def test_continuing_a_prm_with_the_other_head_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    from workbench.training.reward_models.prm_trainer import PRMTrainer

    trainer = _trainer(tmp_path, tiny_model_dir, max_steps=2)
    trainer.run()
    (tmp_path / "c").mkdir()
    run_dir, cfg = _prm_run(tmp_path / "c", tiny_model_dir,
                            init_adapter=str(trainer.run_dir / "checkpoints" / "step-2"))
    with pytest.raises(RunError, match="prm_head = implicit"):
        PRMTrainer(cfg, run_dir).prepare()


def test_prm_head_settings_are_checked() -> None:
    assert any("prm_head" in p for p in RunConfig(kind="prm", prm_head="linear").problems())
    assert any("prm_beta" in p for p in RunConfig(kind="prm", prm_head="implicit", prm_beta=0).problems())
    assert RunConfig(kind="prm", prm_head="implicit").problems() == []


def test_the_reference_pass_runs_once_per_solution_and_the_cache_changes_nothing(tmp_path: Path, tiny_model_dir: Path,
                                                                                  monkeypatch) -> None:
    """pi_ref is frozen: a run computes each solution's reference log-probs once (epoch 1, first evaluation) and
    reuses them; a batch of another composition scores the same with the cache as without it."""
    from workbench.training.reward_models import implicit_prm
    from workbench.training.reward_models.prm_model import step_logits

    computed: list[list[int]] = []
    fresh = implicit_prm.reference_logps

    def counting(model, batch):
        computed.append(batch.index.tolist())
        return fresh(model, batch)

    monkeypatch.setattr(implicit_prm, "reference_logps", counting)
    trainer = _trainer(tmp_path, tiny_model_dir, max_steps=12, eval_every=4, checkpoint_every=0)
    assert trainer.run() == "finished"  # 12 steps of 4 over 18 training solutions: 2.7 epochs; 3 evaluations of 6
    rows = [i for call in computed for i in call]
    assert sorted(rows) == sorted(trainer.train_idx + trainer.eval_idx)  # each solution once, none again
    assert len(computed) == math.ceil(18 / 4) + math.ceil(6 / 4)  # not 12 + 3 * 2
    mixed = [trainer.train_idx[1], trainer.eval_idx[0], trainer.train_idx[7]]
    with torch.no_grad():
        cached = step_logits(trainer.model, trainer.head, trainer.collate_batch(mixed), trainer.reference)
        uncached = step_logits(trainer.model, trainer.head, trainer.collate_batch(mixed))
    assert len(computed) == math.ceil(18 / 4) + math.ceil(6 / 4) + 1  # only the uncached call ran pi_ref
    assert cached[:, 1].abs().max() > 0.05  # a trained adapter: the scores are not all the bias
    assert torch.allclose(cached, uncached, atol=1e-5)
