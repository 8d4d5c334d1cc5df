"""A prompt run once for its K mixtures' continuations (issue #14): packed log-probs equal the plain rows', the
K-mixture evaluation (held-out rewards, generations, scores, KL, length) equals K separate evaluate_policy calls to
1e-5, and generation prefills each prompt once."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import torch

from tests.training.conftest import tiny_rows
from tests.training.test_mixtures import MIXTURES, _steerable
from workbench.core.scorers import Scorer
from workbench.training.evaluation import prompt_fanout
from workbench.training.engine.data import PairRow, tokenize_pairs
from workbench.training.evaluation.evaluate import _sequence_batch, evaluate_policy, evaluation_prompts
from workbench.training.engine.logprobs import sequence_logps
from workbench.training.evaluation.mixtures import evaluate_mixtures, weight_matrix
from workbench.training.evaluation.prompt_fanout import fanout_logps, pack_fanout


def _normalised(w: dict[str, float]) -> dict[str, float]:
    total = sum(w.values())
    return {k: v / total for k, v in w.items()} if total else {}


def test_pack_holds_each_prompt_once_at_the_plain_positions():
    ids, pos, allowed, tokens = pack_fanout([[5, 6, 7]], [[[8, 9], [10], []]], torch.device("cpu"))
    assert ids.tolist() == [[5, 6, 7, 8, 9, 10]]
    assert pos.tolist() == [[0, 1, 2, 3, 4, 3]]  # answer 2 starts at the prompt's end, like answer 1
    a = allowed[0, 0].int().tolist()
    assert a[4] == [1, 1, 1, 1, 1, 0] and a[5] == [1, 1, 1, 0, 0, 1]  # answer 2 never sees answer 1
    # (row, column predicting it, target, answer): first tokens are predicted at the prompt's last column
    assert tokens == [(0, 2, 8, 0), (0, 3, 9, 0), (0, 2, 10, 1)]


@pytest.mark.parametrize("targets", [["q_proj", "v_proj"], ["q_proj", "v_proj", "lm_head"]],
                         ids=["plain-head", "lora-on-head"])
def test_fanout_logps_equal_plain_rows_per_mixture(tiny_model_dir, targets):
    cfg, model, tok, heads, hook = _steerable(tiny_model_dir, targets)
    prompts = [[1, 5, 9, 14], [1, 7, 3]]
    answers = [[[20, 21, 22], [23], [24, 25, 26, 27, 28], [29, 30], []],
               [[31], [32, 33], [34], [35, 36, 37], [38]]]
    with hook.disabled():
        got = fanout_logps(model, prompts, answers, chunk_tokens=3, heads=heads, weights=weight_matrix(heads, MIXTURES))
    with model.disable_adapter(), hook.disabled():
        ref = fanout_logps(model, prompts, answers, chunk_tokens=3)
    for m, w in enumerate(MIXTURES):
        hook.set_weights(_normalised(w))
        for g, (p, group) in enumerate(zip(prompts, answers)):
            if not group[m]:
                assert got[g, m] == 0.0 and ref[g, m] == 0.0
                continue
            batch = _sequence_batch([p], [group[m]], 0, torch.device("cpu"))
            with torch.no_grad():
                plain = sequence_logps(model, batch).sum[0]
                with model.disable_adapter(), hook.disabled():
                    plain_ref = sequence_logps(model, batch).sum[0]
            assert float(got[g, m]) == pytest.approx(float(plain), abs=1e-5)
            assert float(ref[g, m]) == pytest.approx(float(plain_ref), abs=1e-5)
    assert len({round(float(v), 3) for v in got[0, :4]}) == 4  # different answers and heads: different sums


def _eval_data(tok, n_prompts: int):
    """The tiny pairs as held-out data, and `n_prompts` evaluation prompts."""
    rows = [PairRow(**dict(r, split="eval")) for r in tiny_rows()]
    return tokenize_pairs(rows, tok, max_length=64, max_prompt_length=32), evaluation_prompts(rows, n_prompts)


def _reference(model, hook):
    """The reference model: the adapter and the objective heads switched off."""
    @contextlib.contextmanager
    def reference():
        with model.disable_adapter(), hook.disabled():
            yield
    return reference


def test_k_mixture_evaluation_equals_k_separate_evaluations(tiny_model_dir, monkeypatch):
    cfg, model, tok, heads, hook = _steerable(tiny_model_dir, ["q_proj", "v_proj"], head_scale=20.0)
    cfg.eval_max_new_tokens = 6
    data, prompts = _eval_data(tok, 4)
    scorers = {"detail": Scorer("chars", lambda p, r, m: len(r) + 0.5 * len(p))}

    reference = _reference(model, hook)

    separate = []
    for w in MIXTURES:
        hook.set_weights(_normalised(w))
        separate.append(evaluate_policy(model, tok, data, None, prompts, cfg, scorers, reference=reference))
    prefills = []
    real = prompt_fanout.generate_fanout

    def counting(model_, ids, mask, repeats, **kw):
        prefills.append((ids.shape[0], repeats))
        return real(model_, ids, mask, repeats, **kw)

    monkeypatch.setattr("workbench.training.evaluation.mixtures.generate_fanout", counting)
    together = evaluate_mixtures(model, tok, heads, data, None, prompts, cfg, scorers, MIXTURES,
                                 mix=lambda w: hook.set_weights(_normalised(w)), base_head=hook.disabled,
                                 reference=reference)
    assert prefills == [(4, 5)]  # 4 prompts (batch_size 5) prefilled once each for the 5 mixtures
    for one, many in zip(separate, together):
        assert one.keys() == many.keys() and {"kl", "length", "detail/score"} <= set(one)
        for key in one:
            assert many[key] == pytest.approx(one[key], abs=1e-5), key
    assert len({round(v["kl"], 4) for v in separate}) == 5  # the five mixtures really differ


def test_heldout_mixtures_with_shared_prompts_equal_plain_separate_passes(tiny_model_dir):
    cfg, model, tok, heads, hook = _steerable(tiny_model_dir, ["q_proj", "v_proj"])
    cfg.prefix_sharing = False  # the separate passes: plain rows
    data = tokenize_pairs([PairRow(**dict(r, split="eval")) for r in tiny_rows()], tok, max_length=64,
                          max_prompt_length=32)

    reference = _reference(model, hook)

    from workbench.training.evaluation.evaluate import heldout_rewards
    from workbench.training.evaluation.mixtures import heldout_rewards_mixtures

    separate = []
    for w in MIXTURES:
        hook.set_weights(_normalised(w))
        separate.append(heldout_rewards(model, data, None, cfg, reference, pad_id=tok.pad_token_id))
    shared = heldout_rewards_mixtures(model, heads, data, None, MIXTURES, beta=cfg.beta, batch_size=5,
                                      chunk_tokens=16, pad_id=tok.pad_token_id, base_head=hook.disabled,
                                      reference=reference, share_prompt=True)
    for one, many in zip(separate, shared):
        for key in one:
            assert many[key] == pytest.approx(one[key], abs=1e-5), key


def test_generate_fanout_equals_plain_generate_also_for_one_token_prompts(tiny_model_dir):
    cfg, model, tok, heads, hook = _steerable(tiny_model_dir, ["q_proj", "v_proj"])
    kw = dict(max_new_tokens=5, do_sample=False, pad_token_id=tok.pad_token_id, eos_token_id=None)
    for ids, mask in ((torch.tensor([[0, 0, 7, 8], [3, 4, 5, 6]]), torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])),
                      (torch.tensor([[7], [9]]), torch.ones(2, 1, dtype=torch.long))):
        got = prompt_fanout.generate_fanout(model, ids, mask, 3, **kw)
        plain = model.generate(input_ids=ids.repeat_interleave(3, 0), attention_mask=mask.repeat_interleave(3, 0),
                               **kw)
        assert torch.equal(got, plain) and got.shape == (6, ids.shape[1] + 5)


def test_mixture_evaluation_with_guided_decoding_equals_separate_guided_evaluations(tiny_model_dir, tmp_path):
    """Found in review: mixture evaluation answered greedily whatever eval_guide said; now each mixture's answers
    are the guided ones, as a separate evaluation of that mixture gives."""
    from tests.inference.guided_fixtures import make_prm_checkpoint

    cfg, model, tok, heads, hook = _steerable(tiny_model_dir, ["q_proj", "v_proj"], head_scale=20.0)
    prm = make_prm_checkpoint(tiny_model_dir, tmp_path / "step-1", separator=" ")
    cfg.eval_max_new_tokens = 6
    cfg.eval_guide = {"mode": "prm_steps", "checkpoint": str(prm), "k": 2, "max_steps": 2, "max_step_tokens": 3}
    data, prompts = _eval_data(tok, 3)
    scorers = {"detail": Scorer("chars", lambda p, r, m: len(r))}
    mixtures = MIXTURES[:3]

    reference = _reference(model, hook)

    separate = []
    for w in mixtures:
        hook.set_weights(_normalised(w))
        separate.append(evaluate_policy(model, tok, data, None, prompts, cfg, scorers, reference=reference))
    together = evaluate_mixtures(model, tok, heads, data, None, prompts, cfg, scorers, mixtures,
                                 mix=lambda w: hook.set_weights(_normalised(w)), base_head=hook.disabled,
                                 reference=reference)
    greedy = evaluate_mixtures(model, tok, heads, data, None, prompts, dataclasses.replace(cfg, eval_guide={}),
                               scorers, mixtures, mix=lambda w: hook.set_weights(_normalised(w)),
                               base_head=hook.disabled, reference=reference)
    for one, many in zip(separate, together):
        for key in one:
            assert many[key] == pytest.approx(one[key], abs=1e-5), key
    assert [v["detail/score"] for v in together] != [v["detail/score"] for v in greedy]
