"""Reward-guided generation through the real inference worker process (generate with a `guide`): best-of-N by a
vector reward model checkpoint round-trips the protocol and ranks by the weights it reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tests.inference.conftest import WorkerPipe, save_random_adapter
from workbench.core.errors import RunError
from workbench.inference.guided_requests import GuideSpec, ranking_weights

PROMPT = "Tell me about the sea."
RM_OBJECTIVES = ["brevity", "detail"]


@pytest.fixture(scope="module")
def rm_checkpoint(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A vector reward model checkpoint (reward_scoring.VectorRM's folder) with a random adapter and head."""
    from workbench.training.reward_models.vector_rm import RewardHead, RMInfo, save_head

    folder = save_random_adapter(tiny_model_dir, tmp_path_factory.mktemp("rm") / "step-1", seed=4)
    head = RewardHead(64, len(RM_OBJECTIVES), seed=3)
    with torch.no_grad():
        head.weight.copy_(torch.randn(head.weight.shape, generator=torch.Generator().manual_seed(9)))
    save_head(folder, head, RMInfo(RM_OBJECTIVES, str(tiny_model_dir), 64, 256, 128))
    return folder


@pytest.fixture(scope="module")
def served(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    pipe = WorkerPipe(tmp_path_factory.mktemp("worker"))
    pipe.send("load", request="load", model=str(tiny_model_dir), device="cpu")
    assert pipe.until(lambda m: m.type in ("result", "ended"))[-1].type == "result"
    yield pipe
    pipe.close()


def test_best_of_n_through_the_worker(served, rm_checkpoint):
    from workbench.inference.reward_scoring import VectorRM

    pipe = served
    guide = {"mode": "best_of_n", "checkpoint": str(rm_checkpoint), "n": 5, "weights": {"brevity": 3, "detail": 1}}
    pipe.send("generate", request="bon", prompt=PROMPT, temperature=1.0, top_p=1.0, max_new_tokens=12, seed=2,
              guide=guide)
    tokens, data = pipe.request("bon", timeout=120)
    assert "error" not in data, data
    assert data["mode"] == "best_of_n" and data["weights"] == {"brevity": 0.75, "detail": 0.25}
    texts = [c["text"] for c in data["candidates"]]
    assert len(texts) == 5 and len(set(texts)) > 1
    # the worker's scores are the reward model's, scored again here independently
    scores = VectorRM(rm_checkpoint, device="cpu").score([PROMPT] * 5, texts)
    got = np.array([[c["scores"][o] for o in RM_OBJECTIVES] for c in data["candidates"]])
    assert got == pytest.approx(scores, abs=1e-4)
    totals = scores @ np.array([0.75, 0.25])
    assert data["chosen"] == int(np.argmax(totals)) and data["text"] == texts[data["chosen"]]
    assert "".join(tokens) == data["text"] and data["tokens"] >= sum(1 for _ in texts)


def test_bad_guides_are_refused_with_what_to_do(served, rm_checkpoint, tmp_path):
    pipe = served
    for guide, expected in (({"mode": "beam"}, "guide mode must be one of prm_steps, best_of_n"),
                            ({"mode": "prm_steps"}, "choose the process reward model (PRM) checkpoint"),
                            ({"mode": "best_of_n", "checkpoint": str(tmp_path / "nope")}, "is not a folder"),
                            ({"mode": "best_of_n", "checkpoint": str(rm_checkpoint), "n": 0}, "guide n must be"),
                            ({"mode": "best_of_n", "checkpoint": str(rm_checkpoint), "weights": {"detail": -1}},
                             "negative")):
        pipe.send("generate", request="bad", prompt=PROMPT, max_new_tokens=4, seed=1, guide=guide)
        _, data = pipe.request("bad", timeout=120)
        assert expected in data["error"], (guide, data)
    pipe.send("generate", request="after", prompt=PROMPT, max_new_tokens=3, seed=1, temperature=0)
    assert pipe.request("after")[1]["tokens"] == 3  # the worker kept serving


def test_ranking_weights_follow_request_then_steering_then_equal(tmp_path):
    spec = GuideSpec("best_of_n", str(tmp_path))
    assert ranking_weights(spec, ["a", "b"], {}) == {"a": 0.5, "b": 0.5}
    assert ranking_weights(spec, ["a", "b"], {"a": 0.9, "b": 0.1}) == {"a": 0.9, "b": 0.1}
    assert ranking_weights(spec, ["a", "b"], {"x": 1.0}) == {"a": 0.5, "b": 0.5}  # steering of other objectives
    explicit = GuideSpec("best_of_n", str(tmp_path), weights={"b": 2})
    assert ranking_weights(explicit, ["a", "b"], {"a": 1.0, "b": 0.0}) == {"a": 0.0, "b": 1.0}
    with pytest.raises(RunError, match="guide k must be"):
        GuideSpec.from_request({"mode": "prm_steps", "checkpoint": str(tmp_path), "k": 99})
