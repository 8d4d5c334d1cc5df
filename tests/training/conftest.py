"""Shared training fixtures: a tiny Llama model folder and a small two-objective run data file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.training.tiny_model import build_tiny_model

_TOPICS = ["the sea", "Paris", "eggs", "numbers", "Python", "the fox", "water", "a poem",
           "the report", "bread", "friends", "tomorrow"]


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved tiny LlamaForCausalLM + chat-template tokenizer (built once per test session)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny_model"))


def tiny_rows() -> list[dict]:
    """24 rows: 12 prompts x objectives brevity (short answer wins) and detail (long answer wins)."""
    rows: list[dict] = []
    for i, topic in enumerate(_TOPICS):
        prompt = f"Tell me about {topic}."
        short = f"It is {topic}."
        long = f"Here is a detailed answer about {topic}, step by step, with examples and careful thought."
        split = "eval" if i % 6 == 5 else "train"
        rows.append({"pair_id": i + 1, "objective": "brevity", "prompt": prompt, "chosen": short,
                     "rejected": long, "strength": 2, "split": split})
        rows.append({"pair_id": i + 1, "objective": "detail", "prompt": prompt, "chosen": long,
                     "rejected": short, "strength": 2, "split": split})
    return rows


def train_tiny_rm(model_dir: Path, run_dir: Path, steps: int) -> Path:
    """A vector reward model (kind reward_model) trained `steps` steps on tiny_rows() in `run_dir`; returns its
    last checkpoint folder (for tests of its uses: scoring, evaluation, round labels)."""
    from workbench.core.run_config import RunConfig
    from workbench.training.reward_models.vector_rm_trainer import VectorRMTrainer

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tiny_rows()), encoding="utf-8")
    cfg = RunConfig(kind="reward_model", model=str(model_dir), device="cpu", batch_size=4, max_steps=steps,
                    learning_rate=1e-2, max_length=64, max_prompt_length=32, eval_every=0, checkpoint_every=0,
                    active_candidates=0)
    trainer = VectorRMTrainer(cfg, run_dir, emit=lambda *_a, **_k: None)
    trainer.prepare()
    trainer.run()
    return run_dir / "checkpoints" / f"step-{steps}"


@pytest.fixture()
def tiny_run_data(tmp_path: Path) -> Path:
    """A run folder holding data.jsonl (run folder format, store_api.md); returns the data.jsonl path."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    path = run_dir / "data.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in tiny_rows()), encoding="utf-8")
    return path
