"""Evaluation of a policy: held-out implicit-reward accuracy/margin, greedy generations, scores, KL and length,
each checked against a direct computation on the tiny model."""

from __future__ import annotations

import torch

from tests.training.conftest import tiny_rows
from workbench.core.run_config import RunConfig
from workbench.core.scorers import Scorer
from workbench.training.engine.data import PairRow, collate, tokenize_pairs
from workbench.training.evaluation.evaluate import (Generations, encode_prompt, evaluate_policy, evaluation_prompts,
                                         generate_greedy, heldout_rewards)
from workbench.training.engine.logprobs import naive_sequence_logps
from workbench.training.engine.lora import attach_lora
from workbench.training.engine.model_loading import load_model
from workbench.training.engine.reference import reference_logps


def _policy(model_dir, *, random_b: bool = True):
    cfg = RunConfig(model=str(model_dir), device="cpu", max_length=64, max_prompt_length=32, batch_size=3,
                    eval_max_new_tokens=10, beta=0.2)
    loaded = load_model(cfg, for_training=False)
    model = attach_lora(loaded.model, cfg)
    if random_b:
        torch.manual_seed(3)
        with torch.no_grad():
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.05)
    return cfg, model.eval(), loaded.tokenizer


def _data(tokenizer):
    rows = [PairRow(**r) for r in tiny_rows()]
    return rows, tokenize_pairs(rows, tokenizer, max_length=64, max_prompt_length=32)


def test_heldout_accuracy_and_margin_equal_direct_computation(tiny_model_dir):
    cfg, model, tok = _policy(tiny_model_dir)
    rows, data = _data(tok)
    ref = reference_logps(model, data, batch_size=4, chunk_tokens=64, cache_path=None, pad_id=tok.pad_token_id)
    got = heldout_rewards(model, data, ref, cfg, model.disable_adapter, pad_id=tok.pad_token_id)
    no_cache = heldout_rewards(model, data, None, cfg, model.disable_adapter, pad_id=tok.pad_token_id)
    expected: dict[str, list[float]] = {}
    with torch.no_grad():
        for i in data.indices("eval"):
            batch = collate(data, [i], tok.pad_token_id)
            pc, pr = naive_sequence_logps(model, batch).sum.tolist()
            with model.disable_adapter():
                rc, rr = naive_sequence_logps(model, batch).sum.tolist()
            expected.setdefault(data.objectives[data.objective[i]], []).append(cfg.beta * ((pc - rc) - (pr - rr)))
    assert sorted(expected) == ["brevity", "detail"] and all(len(v) == 2 for v in expected.values())
    for objective, diffs in expected.items():
        assert abs(got[f"{objective}/margin"] - sum(diffs) / len(diffs)) < 1e-5
        assert got[f"{objective}/accuracy"] == sum(d > 0 for d in diffs) / len(diffs)
        assert abs(no_cache[f"{objective}/margin"] - got[f"{objective}/margin"]) < 1e-5
    # brevity and detail pairs are the same two responses swapped: margins are opposite, accuracies complementary
    assert abs(got["brevity/margin"] + got["detail/margin"]) < 1e-5
    assert got["brevity/margin"] != 0.0
    assert got["brevity/accuracy"] + got["detail/accuracy"] == 1.0


def _manual_greedy(model, prompt_ids: list[int], steps: int, eos: int) -> list[int]:
    """Argmax decoding with full forward passes and no cache: the definition generate must reproduce."""
    ids = list(prompt_ids)
    out: list[int] = []
    with torch.no_grad():
        for _ in range(steps):
            nxt = int(model(input_ids=torch.tensor([ids])).logits[0, -1].argmax())
            out.append(nxt)
            ids.append(nxt)
            if nxt == eos:
                break
    return out


def test_batched_left_padded_greedy_equals_one_by_one_and_manual_argmax(tiny_model_dir):
    _, model, tok = _policy(tiny_model_dir)
    prompts = ["Hi.", "Tell me about the sea and the fox, please.", [{"role": "user", "content": "Eggs?"}]]
    batched = generate_greedy(model, tok, prompts, max_new_tokens=10, batch_size=3)
    single = generate_greedy(model, tok, prompts, max_new_tokens=10, batch_size=1)
    assert len({len(p) for p in batched.prompt_ids}) == 3  # really different lengths, so padding is exercised
    assert batched.response_ids == single.response_ids
    for p_ids, got in zip(batched.prompt_ids, batched.response_ids):
        assert got == _manual_greedy(model, p_ids, 10, tok.eos_token_id)
    for ids, n, text in zip(batched.response_ids, batched.lengths, batched.texts):
        assert n == len(ids) - (ids[-1] == tok.eos_token_id)
        assert text == tok.decode(ids, skip_special_tokens=True)
    assert batched.prompt_ids[0] == encode_prompt(tok, "Hi.")


def test_evaluate_policy_scores_kl_and_length(tiny_model_dir):
    cfg, model, tok = _policy(tiny_model_dir)
    rows, data = _data(tok)
    prompts = evaluation_prompts(rows, 4)
    chars = Scorer("chars", lambda p, r, m: len(r) + 0.5 * len(p))
    values = evaluate_policy(model, tok, data, None, prompts, cfg, {"detail": chars})
    gen: Generations = generate_greedy(model, tok, prompts, max_new_tokens=cfg.eval_max_new_tokens, batch_size=3)
    assert values["detail/score"] == sum(len(t) + 0.5 * len(p) for p, t in zip(prompts, gen.texts)) / len(prompts)
    assert values["length"] == sum(gen.lengths) / len(prompts)
    kl = []
    with torch.no_grad():
        for p_ids, r_ids in zip(gen.prompt_ids, gen.response_ids):
            ids = torch.tensor([p_ids + r_ids])
            logp = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), -1)
            with model.disable_adapter():
                ref = torch.log_softmax(model(input_ids=ids).logits[0, :-1].double(), -1)
            pos = torch.arange(len(p_ids) - 1, ids.shape[1] - 1)
            tgt = ids[0, 1:][pos]
            kl.append(float((logp[pos, tgt] - ref[pos, tgt]).sum()))
    assert abs(values["kl"] - sum(kl) / len(kl)) < 1e-4 and values["kl"] != 0.0
    assert {"brevity/accuracy", "brevity/margin", "detail/accuracy", "detail/margin"} <= set(values)
    assert "brevity/score" not in values  # only objectives with a scorer get a score


def test_untrained_adapter_is_the_reference(tiny_model_dir):
    cfg, model, tok = _policy(tiny_model_dir, random_b=False)  # B = 0: policy == reference
    rows, data = _data(tok)
    values = evaluate_policy(model, tok, data, None, evaluation_prompts(rows, 3), cfg, {})
    assert values["kl"] == 0.0
    assert values["brevity/margin"] == 0.0 and values["brevity/accuracy"] == 0.0  # ties are not wins


def test_evaluation_prompts_are_held_out_distinct_and_fixed():
    rows = [PairRow(**r) for r in tiny_rows()]
    held_out = [r.prompt for r in sorted(rows, key=lambda r: r.pair_id) if r.split == "eval"]
    assert evaluation_prompts(rows, 16) == list(dict.fromkeys(held_out))  # brevity+detail share prompts: once
    assert evaluation_prompts(rows, 1) == held_out[:1]
    train_only = [r for r in rows if r.split == "train"]
    assert evaluation_prompts(train_only, 2) == ["Tell me about the sea.", "Tell me about Paris."]
