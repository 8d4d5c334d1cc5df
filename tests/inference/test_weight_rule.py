"""Issue 11, item 3: one weight rule (core.weights) — the inference worker's session, the evaluation path
(Steerable), the soup builder and the CLI refuse the same weights with the same message, and accept what it
normalises ({2, 0} is the first head exactly, not a head-delta beyond it)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from tests.cli.cli_testing import workbench
from tests.inference.conftest import OBJECTIVES, load_base
from workbench.core.weights import WeightError, validate_weights
from workbench.inference.session import InferenceSession
from workbench.inference.worker import error_text
from workbench.training.preference.soups import make_soup, soup_model
from workbench.training.preference.steerable import load_steerable

BAD = [{"brevity": -1.0, "detail": 2.0}, {"brevity": 0.0, "detail": 0.0}, {"brevity": math.inf, "detail": 1.0},
       {"brevity": "a lot", "detail": 1.0}]


def _message(weights: dict) -> str:
    with pytest.raises(WeightError) as info:
        validate_weights(weights, OBJECTIVES)
    return str(info.value)


def test_the_rule_normalises_and_names_what_is_wrong():
    assert validate_weights({"brevity": 2.0, "detail": 0.0}) == {"brevity": 1.0, "detail": 0.0}
    assert validate_weights({"detail": 3.0}, OBJECTIVES) == {"brevity": 0.0, "detail": 1.0}
    assert _message(BAD[0]) == ("weight of brevity is negative (brevity=-1, detail=2); weights must be finite "
                                "numbers >= 0, not all zero (they are normalised to sum 1)")
    assert _message(BAD[1]).startswith("all weights are zero (brevity=0, detail=0)")
    assert _message(BAD[2]).startswith("weight of brevity is not finite")
    assert _message(BAD[3]).startswith("weight of brevity must be a number, not 'a lot'")
    with pytest.raises(WeightError, match="unknown objective.*safety"):
        validate_weights({"safety": 1.0}, OBJECTIVES)
    assert validate_weights({"brevity": -1.0, "detail": 2.0}, extrapolate=True) == {"brevity": -1.0, "detail": 2.0}


@pytest.mark.parametrize("bad", BAD, ids=["negative", "zeros", "inf", "text"])
def test_worker_eval_path_and_soup_builder_give_the_same_message(bad, tiny_model_dir, mah_checkpoint,
                                                                  soup_adapters):
    expected = _message(bad)
    heads = InferenceSession("cpu")
    heads.load({"model": str(tiny_model_dir), "adapter": str(mah_checkpoint)}, lambda *_: None)
    soup = InferenceSession("cpu")
    soup.load({"model": str(tiny_model_dir), "soup_adapters": soup_adapters}, lambda *_: None)
    steerable = load_steerable(str(tiny_model_dir), mah_checkpoint, device="cpu")
    peft_model = soup_model(load_base(tiny_model_dir)[0], soup_adapters)
    for call in (heads.set_weights, soup.set_weights, steerable.set_weights,
                 lambda w: make_soup(peft_model, soup_adapters, w)):
        with pytest.raises(WeightError) as info:
            call(bad)
        assert error_text(info.value, "while setting weights") == expected  # what the worker protocol answers
    assert heads.weights == {"brevity": 0.5, "detail": 0.5}  # a refused request changes nothing


def test_two_zero_is_the_first_head_exactly(tiny_model_dir, mah_checkpoint):
    session = InferenceSession("cpu")
    session.load({"model": str(tiny_model_dir), "adapter": str(mah_checkpoint)}, lambda *_: None)
    session.set_weights({"brevity": 2.0, "detail": 0.0})
    assert session.weights == {"brevity": 1.0, "detail": 0.0}
    steerable = load_steerable(str(tiny_model_dir), mah_checkpoint, device="cpu")
    steerable.set_weights({"brevity": 2.0, "detail": 0.0})
    assert steerable.weights == {"brevity": 1.0, "detail": 0.0}


def test_cli_refuses_the_same_weights_with_the_same_message(tmp_path: Path, tiny_model_dir):
    from workbench.store.db import create_project
    from workbench.store.objectives import add_objective

    project = create_project(tmp_path / "p.sqlite")
    with project.session() as s:
        for name in OBJECTIVES:
            add_objective(s, name)
    project.close()
    config = tmp_path / "run.json"
    config.write_text(json.dumps({"model": str(tiny_model_dir), "method": "weighted", "objectives": OBJECTIVES,
                                  "weights": BAD[0], "device": "cpu"}))
    done = workbench("train", str(tmp_path / "p.sqlite"), "--config", str(config))
    assert done.returncode != 0
    assert _message(BAD[0]) in done.stderr + done.stdout
    assert "Traceback" not in done.stderr
