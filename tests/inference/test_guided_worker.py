"""Reward-guided generation through the real inference worker process (generate with a `guide`): best-of-N by a
vector reward model checkpoint round-trips the protocol and ranks by the weights it reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.inference.conftest import WorkerPipe
from tests.inference.guided_fixtures import make_prm_checkpoint, make_rm_checkpoint
from workbench.core.errors import RunError
from workbench.inference.guided_requests import GuideSpec, ranking_weights

PROMPT = "Tell me about the sea."
RM_OBJECTIVES = ["brevity", "detail"]


@pytest.fixture(scope="module")
def rm_checkpoint(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_rm_checkpoint(tiny_model_dir, tmp_path_factory.mktemp("rm") / "step-1", RM_OBJECTIVES)


@pytest.fixture(scope="module")
def prm_checkpoint(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PRM whose steps are cut at spaces (the untrained tiny model writes few newlines)."""
    return make_prm_checkpoint(tiny_model_dir, tmp_path_factory.mktemp("prm") / "step-1", separator=" ")


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


def test_prm_step_search_through_the_worker(served, prm_checkpoint):
    """Each kept step streams as a token with its score; the scores are the PRM's on the accepted steps (scored
    again here by PRMScorer in this process), and every step kept its best-scored candidate."""
    from workbench.inference.prm_scoring import PRMScorer

    pipe = served
    guide = {"mode": "prm_steps", "checkpoint": str(prm_checkpoint), "k": 4, "max_steps": 4, "max_step_tokens": 6}
    pipe.send("generate", request="prm", prompt=PROMPT, temperature=1.0, top_p=1.0, max_new_tokens=40, seed=8,
              guide=guide)
    msgs = pipe.until(lambda m: m.type == "result" and m.data["request"] == "prm", timeout=120)
    data = msgs[-1].data["data"]
    assert "error" not in data, data
    streamed = [m.data for m in msgs if m.type == "token" and m.data["request"] == "prm"]
    assert data["mode"] == "prm_steps" and data["separator"] == " " and len(data["steps"]) == 4
    assert [t["step"] for t in streamed] == [0, 1, 2, 3]
    assert "".join(t["text"] for t in streamed) == data["text"]
    assert [t["score"] for t in streamed] == [s["score"] for s in data["steps"]]
    steps = [s["text"] for s in data["steps"]]
    again = PRMScorer(prm_checkpoint, device="cpu").score_steps(PROMPT, steps)
    assert [s["score"] for s in data["steps"]] == pytest.approx(again, abs=1e-5)
    for s in data["steps"]:
        values = [c["score"] if c["score"] is not None else -1.0 for c in s["candidates"]]
        assert len(values) == 4 and s["chosen"] == int(np.argmax(values))
        assert s["candidates"][s["chosen"]]["text"] == s["text"]
    assert len({c["text"] for s in data["steps"] for c in s["candidates"]}) > 4  # real alternatives


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
