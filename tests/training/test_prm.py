"""Process reward model: TRL's tokenisation by hand, the loss by hand, scoring = training-time evaluation, resume,
and a real `workbench worker train` run of kind prm."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from workbench.core.arith_task import generate_problems
from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.reward_models.prm_data import IGNORE, collate_steps, read_steps_file, tokenize_steps


class CharTokenizer:
    """One token per character (id = ord), BOS 1: token positions can be counted by hand."""

    bos_token_id = 1
    pad_token_id = 0

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict:
        return {"input_ids": [ord(c) for c in text]}


def test_tokenize_steps_matches_hand_computed_positions() -> None:
    tok = CharTokenizer()
    row = tokenize_steps(tok, "Q?", ["ab", "c", "de"], [True, None, False], separator="\n",
                         separator_after_prompt=True)
    # BOS Q ? \n a b \n c \n d e \n
    assert row.input_ids == [1, 81, 63, 10, 97, 98, 10, 99, 10, 100, 101, 10]
    assert row.positions == [6, 8, 11]  # the last token of each step + separator
    assert row.labels == [1, IGNORE, 0]
    assert row.start == 4  # the first step token (the implicit head sums from here)
    trl = tokenize_steps(tok, "Q?", ["ab", "c"], [True, True], separator="\n\n", separator_after_prompt=False)
    assert trl.input_ids == [1, 81, 63, 97, 98, 10, 10, 99, 10, 10]  # TRL's layout: no separator after the prompt
    assert trl.positions == [6, 9] and trl.start == 3
    batch = collate_steps([trl, row], 0)
    assert batch.response_mask.int().tolist() == [[0, 0, 0] + [1] * 7 + [0, 0], [0] * 4 + [1] * 8]
    cut = tokenize_steps(tok, "Q?", ["ab", "c", "de"], [True, True, False], max_length=9)
    assert cut.input_ids == row.input_ids[:9] and cut.positions == [6, 8] and cut.labels == [1, 1]
    assert cut.n_steps == 3
    with pytest.raises(RunError, match="separator"):
        tokenize_steps(tok, "Q", ["a"], separator="")


def test_tokenize_steps_with_the_tiny_tokenizer(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tok.bos_token_id is None
    p, s1, s2 = (tok("Tell me.", add_special_tokens=False)["input_ids"], tok("It is 4.", add_special_tokens=False)
                 ["input_ids"], tok("Done", add_special_tokens=False)["input_ids"])
    sep = tok("\n", add_special_tokens=False)["input_ids"]
    row = tokenize_steps(tok, "Tell me.", ["It is 4.", "Done"], [True, False])
    assert row.input_ids == p + sep + s1 + sep + s2 + sep
    assert row.positions == [len(p + sep + s1 + sep) - 1, len(row.input_ids) - 1]
    batch = collate_steps([row, tokenize_steps(tok, "Hi", ["a"], [None])], pad_id=tok.pad_token_id)
    assert batch.input_ids.shape == (2, len(row.input_ids))
    assert batch.labels[0, row.positions].tolist() == [1, 0] and int((batch.labels != IGNORE).sum()) == 2
    short = tokenize_steps(tok, "Hi", ["a"], [None])
    assert int(batch.step_mask.sum()) == 3 and int(batch.attention_mask[1].sum()) == len(short.input_ids)
    assert batch.input_ids[1, len(short.input_ids):].eq(tok.pad_token_id).all()  # right-padded


def test_read_steps_file_checks_rows(tmp_path: Path) -> None:
    path = tmp_path / "steps.jsonl"
    path.write_text(json.dumps({"prompt": "p", "completions": ["a", "b"], "labels": [1, 0.2]}) + "\n\n"
                    + json.dumps({"prompt": "q", "completions": ["c"], "labels": [None], "split": "eval"}) + "\n")
    rows = read_steps_file(path)
    assert rows[0]["labels"] == [True, False] and rows[1]["labels"] == [None] and rows[1]["split"] == "eval"
    path.write_text(json.dumps({"prompt": "p", "completions": ["a", "b"], "labels": [True]}) + "\n")
    with pytest.raises(RunError, match="line 1"):
        read_steps_file(path)
    with pytest.raises(RunError, match="missing"):
        read_steps_file(tmp_path / "nope.jsonl")


def _prm_run(tmp_path: Path, model_dir: Path, n: int = 24, **overrides) -> tuple[Path, RunConfig]:
    run_dir = tmp_path / "0003-prm"
    run_dir.mkdir()
    rows = [{**p.trl_row(), "split": "eval" if i % 4 == 3 else "train"}
            for i, p in enumerate(generate_problems(n, seed=0, max_ops=3))]
    (run_dir / "steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    settings = dict(kind="prm", model=str(model_dir), device="cpu", batch_size=4, max_steps=3, learning_rate=5e-3,
                    max_length=256, max_prompt_length=128, eval_every=2, checkpoint_every=2, log_every=1)
    settings.update(overrides)
    cfg = RunConfig(**settings)
    cfg.save(run_dir / "config.json")
    return run_dir, cfg


def test_loss_equals_hand_computed_cross_entropy(tmp_path: Path, tiny_model_dir: Path) -> None:
    from workbench.training.reward_models.prm_trainer import PRMTrainer

    run_dir, cfg = _prm_run(tmp_path, tiny_model_dir)
    trainer = PRMTrainer(cfg, run_dir)
    trainer.prepare()
    idx = trainer.train_idx[:3]
    batch = trainer.collate_batch(idx)
    loss, metrics = trainer.forward_loss(batch)
    # by hand: the full causal LM's last hidden state (after the final norm), the head at each step's separator
    total, count, right = 0.0, 0, 0
    with torch.no_grad():
        for i in idx:
            row = trainer.data.rows[i]
            out = trainer.model(input_ids=torch.tensor([row.input_ids]), output_hidden_states=True)
            hidden = out.hidden_states[-1][0]
            for pos, label in zip(row.positions, row.labels, strict=True):
                w, b = trainer.head.weight, trainer.head.bias
                z = [float(hidden[pos] @ w[c] + b[c]) for c in (0, 1)]
                log_norm = math.log(math.exp(z[0]) + math.exp(z[1]))
                total += -(z[label] - log_norm)
                count += 1
                right += int((z[1] > z[0]) == bool(label))
    assert count == sum(len(trainer.data.rows[i].positions) for i in idx) > 3
    assert float(loss.detach()) == pytest.approx(total / count, rel=1e-5)
    assert metrics["steps/accuracy"] == pytest.approx(right / count)


def test_scorer_equals_training_eval_and_resume_is_exact(tmp_path: Path, tiny_model_dir: Path) -> None:
    from workbench.inference.prm_scoring import PRMScorer
    from workbench.training.reward_models.prm_trainer import PRMTrainer

    run_dir, cfg = _prm_run(tmp_path, tiny_model_dir, max_steps=4)
    events: list[tuple[str, dict]] = []
    trainer = PRMTrainer(cfg, run_dir, emit=lambda t, **d: events.append((t, d)))
    trainer.prepare()
    assert trainer.run() == "finished"
    folder = run_dir / "checkpoints" / "step-4"
    meta = json.loads((folder / "prm.json").read_text())
    assert meta["step_separator"] == "\n" and meta["separator_after_prompt"] is True
    assert {"adapter_model.safetensors", "prm_head.safetensors"} <= {p.name for p in folder.iterdir()}
    assert not list(folder.glob("*.pt")) and not list(folder.glob("*.bin"))  # no pickle
    evals = [d["values"] for t, d in events if t == "metric" and "eval/steps/accuracy" in d["values"]]
    assert [len(e) for e in evals] == [6, 6] and 0.0 <= evals[-1]["eval/steps/accuracy"] <= 1.0

    rows = read_steps_file(run_dir / "steps.jsonl")
    eval_rows = [rows[i] for i in range(len(rows)) if rows[i]["split"] == "eval"]
    expected = trainer.scores(trainer.eval_idx)
    scorer = PRMScorer(folder, device="cpu")
    got = scorer.score_batch([(r["prompt"], r["completions"]) for r in eval_rows], batch_size=3)
    assert len(got) == len(expected) == 6
    for g, (e, _) in zip(got, expected, strict=True):
        assert g == pytest.approx(e.tolist(), abs=1e-5)
    one = scorer.score_steps(eval_rows[0]["prompt"], eval_rows[0]["completions"])
    assert one == pytest.approx(got[0], abs=1e-5) and len(one) == len(eval_rows[0]["completions"])

    # stop after 2 steps, resume to 4: the same head and adapter as the uninterrupted run
    (tmp_path / "b").mkdir()
    run2, cfg2 = _prm_run(tmp_path / "b", tiny_model_dir, max_steps=4)
    first = PRMTrainer(cfg2, run2, should_stop=lambda: first.pos.step >= 2)
    first.prepare()
    assert first.run() == "stopped" and first.pos.step == 2
    resumed = PRMTrainer(cfg2, run2)
    resumed.prepare(resume=True)
    assert resumed.pos.step == 2 and resumed.run() == "finished"
    assert torch.allclose(resumed.head.weight, trainer.head.weight, atol=1e-6)
    lora = {n: p for n, p in trainer.model.named_parameters() if p.requires_grad}
    for n, p in resumed.model.named_parameters():
        if p.requires_grad:
            assert torch.allclose(p, lora[n], atol=1e-6), n


def test_worker_run_of_kind_prm_finishes_with_step_metrics(tmp_path: Path, tiny_model_dir: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.cli.supervise import WorkerProcess
    from workbench.cli.train import worker_argv
    from workbench.inference.prm_scoring import PRMScorer

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # real workers run `python -m workbench` from the repo
    run_dir, _ = _prm_run(tmp_path, tiny_model_dir)
    worker = WorkerProcess(worker_argv(run_dir, False), run_id="3")
    msgs = [m for batch in worker.messages() for m in batch]
    assert worker.garbage == []
    assert msgs[-1].type == "ended" and msgs[-1].data["reason"] == "finished", msgs[-1]
    assert msgs[-1].data["step"] == 3 and worker.proc.returncode == 0
    train = [m.data["values"] for m in msgs if m.type == "metric" and "steps/accuracy" in m.data["values"]]
    held = [m.data["values"] for m in msgs if m.type == "metric" and "eval/steps/accuracy" in m.data["values"]]
    assert len(train) == 3 and all(0.0 <= v["steps/accuracy"] <= 1.0 and v["loss"] > 0 for v in train)
    assert len(held) == 2 and {"eval/steps/f1", "eval/first_error/f1"} <= set(held[-1])
    assert [m.data["step"] for m in msgs if m.type == "checkpoint"] == [2, 3]
    assert not (run_dir / "pair_margins.json").exists()  # the policy-only margins pass is skipped
    scorer = PRMScorer(run_dir / "checkpoints" / "step-3", device="cpu")
    scores = scorer.score_steps("Tom has 2 boxes with 3 pens each.", ["Step 1: so 2 * 3 = 6.", "The answer is 6."])
    assert len(scores) == 2 and all(0.0 < s < 1.0 for s in scores)


def test_prm_settings_are_checked() -> None:
    assert any("step_separator" in p for p in RunConfig(kind="prm", step_separator="").problems())
    assert RunConfig(kind="prm").problems() == [] and RunConfig(kind="prm").step_separator == "\n"
