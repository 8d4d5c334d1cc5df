"""Implicit-reward margins for the "active" labelling order: the formula, what a finished run writes, MAH-DPO heads
respected, and a stop request honoured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.training.test_trainer import make_trainer
from workbench.training.engine.data import collate
from workbench.training.engine.logprobs import naive_sequence_logps
from workbench.training.preference.margins import (CANDIDATES_FILE, MARGINS_FILE, candidate_data, implicit_margins,
                                        read_margins, smallest_per_pair, write_run_margins)
from workbench.training.engine.reference import logps_table

BETA = 0.1
TOL = 2e-5  # fp32 sums of ~50-nat log-probs over differently padded batches differ in the 5th digit


def test_margin_formula_and_smallest_per_pair():
    policy = torch.tensor([[-10.0, -12.0], [-5.0, -4.0], [-7.0, -7.5]])
    ref = torch.tensor([[-11.0, -11.0], [-5.0, -5.0], [-7.0, -7.0]])
    m = implicit_margins(policy, ref, BETA)
    # 0.1·((−10+11) − (−12+11)) = 0.2; 0.1·(0 − 1) = −0.1; 0.1·(0 − (−0.5)) = 0.05
    assert m.tolist() == pytest.approx([0.2, -0.1, 0.05])
    assert smallest_per_pair([7, 7, 9], m) == pytest.approx({7: 0.1, 9: 0.05})
    assert smallest_per_pair([9], torch.tensor([-0.01]), {9: 0.05, 4: 1.0}) == pytest.approx({9: 0.01, 4: 1.0})


def _write_candidates(run_dir: Path) -> None:
    """Three unlabelled pairs (ids 101-103): 101 listed for both objectives, and a row of an objective the run
    does not train (left out)."""
    rows = []
    for pid, topic in ((101, "the moon"), (102, "cheese"), (103, "a bicycle")):
        rows.append({"pair_id": pid, "objective": "brevity", "prompt": f"Tell me about {topic}.",
                     "chosen": f"It is {topic}.", "rejected": f"A long story about {topic}, told slowly.",
                     "strength": 2, "split": "candidate"})
    rows.append(dict(rows[0], objective="detail"))
    rows.append(dict(rows[1], pair_id=104, objective="style"))
    (run_dir / CANDIDATES_FILE).write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _expected(trainer, data, policy_logps) -> torch.Tensor:
    """Signed margins recomputed without margins.py: the given policy log-probs (adapter on) against the
    reference with the adapter disabled, one pair at a time."""
    model, pad = trainer.model, trainer.tokenizer.pad_token_id
    model.eval()
    out = []
    with torch.no_grad():
        for i in range(len(data)):
            batch = collate(data, [i], pad, trainer.device)
            pol = policy_logps(model, batch).sum
            with model.disable_adapter():
                ref = naive_sequence_logps(model, batch).sum
            out.append(BETA * ((pol[0] - ref[0]) - (pol[1] - ref[1])))
    return torch.stack(out)


def test_finished_run_scores_its_pairs_and_candidates(tiny_model_dir, tiny_run_data):
    run_dir = tiny_run_data.parent
    _write_candidates(run_dir)
    events: list = []
    trainer = make_trainer(tiny_model_dir, tiny_run_data, events, max_steps=3, beta=BETA)
    trainer.prepare()
    assert trainer.run() == "finished"
    assert write_run_margins(trainer, lambda t, **d: events.append((t, d)), lambda: False) == 15
    margins = read_margins(run_dir / MARGINS_FILE)
    assert set(margins) == set(range(1, 13)) | {101, 102, 103}  # 104's objective is not trained by this run

    def naive(model, batch):
        return naive_sequence_logps(model, batch)

    cands = candidate_data(run_dir / CANDIDATES_FILE, trainer.tokenizer, trainer.data.objectives,
                           max_length=64, max_prompt_length=32)
    expected = _expected(trainer, cands, naive).abs()
    for pid, m in zip(cands.pair_id, expected.tolist()):
        assert margins[pid] == pytest.approx(m, abs=TOL)
    train_expected = smallest_per_pair(trainer.data.pair_id, _expected(trainer, trainer.data, naive))
    assert {k: margins[k] for k in train_expected} == pytest.approx(train_expected, abs=TOL)
    assert min(margins.values()) > 0  # three steps at lr 1e-2 moved the adapter off zero for every pair
    assert events[-1] == ("log", {"level": "info", "message": "wrote implicit-reward margins of 15 pairs (3 "
                                                                "unlabelled) for the active labelling order"})
    assert any(t == "status" and d["state"] == "evaluating" and d["progress"] == 1.0 for t, d in events)


def test_mah_dpo_margins_use_each_objectives_head(tiny_model_dir, tiny_run_data):
    run_dir = tiny_run_data.parent
    _write_candidates(run_dir)
    trainer = make_trainer(tiny_model_dir, tiny_run_data, method="mah_dpo", head_rank=4, max_steps=3, beta=BETA)
    trainer.prepare()
    trainer.run()
    write_run_margins(trainer, lambda t, **d: None, lambda: False)
    margins = read_margins(run_dir / MARGINS_FILE)
    cands = candidate_data(run_dir / CANDIDATES_FILE, trainer.tokenizer, trainer.data.objectives,
                           max_length=64, max_prompt_length=32)
    per_row = _expected(trainer, cands, trainer.method.policy_logps).abs().tolist()
    rows_101 = [m for pid, m in zip(cands.pair_id, per_row) if pid == 101]
    assert len(rows_101) == 2 and rows_101[0] != pytest.approx(rows_101[1], rel=1e-3)  # two heads, two margins
    assert margins[101] == pytest.approx(min(rows_101), abs=TOL)
    # the reference is the base: the heads are not applied to it (a base-only table equals the cached one)
    ref = logps_table(trainer.model, trainer.data, batch_size=4, chunk_tokens=1024,
                      pad_id=trainer.tokenizer.pad_token_id)
    assert torch.allclose(ref, trainer.ref.table(), atol=1e-5)


def test_stop_request_leaves_no_margins_file(tiny_model_dir, tiny_run_data):
    events: list = []
    trainer = make_trainer(tiny_model_dir, tiny_run_data, events, max_steps=1)
    trainer.prepare()
    trainer.run()
    assert write_run_margins(trainer, lambda t, **d: events.append((t, d)), lambda: True) is None
    assert not (tiny_run_data.parent / MARGINS_FILE).exists()
    assert events[-1] == ("log", {"level": "info", "message": "stopped before the pair margins were written"})


def test_pass_costs_one_forward_per_pair_with_a_known_reference(tiny_model_dir, tiny_run_data, monkeypatch):
    """Pairs the run trained on reuse their cached reference (one policy forward each); candidates cost two
    (reference + policy); nothing runs twice; progress reaches 1 with an ETA, and a second pass over the same
    candidates reuses their cached reference (candidates_ref_logps.pt)."""
    from workbench.training.engine import reference_cache

    run_dir = tiny_run_data.parent
    _write_candidates(run_dir)
    events: list = []
    trainer = make_trainer(tiny_model_dir, tiny_run_data, events, max_steps=2, batch_size=4, beta=BETA,
                           reference="upfront")
    trainer.prepare()
    trainer.run()
    calls = {"ref_rows": 0}
    real = reference_cache.batch_reference_logps

    def counting(model, batch, **kw):
        calls["ref_rows"] += batch.index.numel()
        return real(model, batch, **kw)

    monkeypatch.setattr(reference_cache, "batch_reference_logps", counting)
    status: list = []
    assert write_run_margins(trainer, lambda t, **d: status.append(d) if t == "status" else None,
                             lambda: False) == 15
    assert calls["ref_rows"] == 4  # the 4 candidate rows (3 pairs, 101 twice); the 24 run rows were cached
    fractions = [d["progress"] for d in status]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert status[0]["eta_s"] is None and status[-1]["eta_s"] == 0.0 and "left" in status[1]["message"]
    assert (run_dir / "candidates_ref_logps.pt").exists()
    first = read_margins(run_dir / MARGINS_FILE)
    calls["ref_rows"] = 0
    write_run_margins(trainer, lambda t, **d: None, lambda: False)
    assert calls["ref_rows"] == 0 and read_margins(run_dir / MARGINS_FILE) == first
