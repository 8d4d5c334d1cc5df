"""Lazy reference log-probs (issue #14): same trajectory as the upfront pass, bit for bit; a short run pays only
for the pairs it trains on; the cache file carries over to a resumed run."""

from __future__ import annotations

import pytest
import torch

from workbench.training.engine.data import length_grouped_batches
from workbench.training.engine.reference_cache import ReferenceCache

from .test_trainer import make_trainer


def _trajectory(events: list) -> list[dict]:
    return [d["values"] for t, d in events if t in ("metric", "eval")]


def _lora(t) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in t.model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("method", ["dpo", "mah_dpo"])
def test_lazy_and_upfront_give_bit_identical_trajectories(tiny_model_dir, tmp_path, tiny_run_data, method):
    runs = {}
    for mode in ("lazy", "upfront"):
        run_dir = tmp_path / mode
        run_dir.mkdir()
        (run_dir / "data.jsonl").write_bytes(tiny_run_data.read_bytes())
        events: list = []
        t = make_trainer(tiny_model_dir, run_dir / "data.jsonl", events, reference=mode, method=method,
                         head_rank=4, batch_size=3, max_steps=16, eval_every=4)
        t.prepare()
        computed_in_prepare = t.ref.computed
        t.run()
        runs[mode] = (t, events, computed_in_prepare)
    (lazy, lazy_events, lazy_prep), (up, up_events, up_prep) = runs["lazy"], runs["upfront"]
    assert lazy_prep == 0 and up_prep == len(up.data)  # upfront: every pair before step 1; lazy: none
    # 16 steps pass the end of epoch 0 (proportional: 7 batches of 3; balanced MAH-DPO: one pair per objective per
    # batch, the larger objective once per epoch): later batches reuse the cache, so every pair was computed once
    assert lazy.ref.computed == len(lazy.data) and lazy.ref.is_complete()
    assert torch.equal(lazy.ref.table(), up.ref.table())
    traj_lazy, traj_up = _trajectory(lazy_events), _trajectory(up_events)
    assert len(traj_lazy) == len(traj_up) >= 16 + 2
    timing = {"tokens_per_s", "step_time_s", "peak_memory_mb", "eta_s"}
    for a, b in zip(traj_lazy, traj_up):
        assert {k: v for k, v in a.items() if k not in timing} == {k: v for k, v in b.items() if k not in timing}
    wa, wb = _lora(lazy), _lora(up)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[n], wb[n]) for n in wa)


def test_short_run_computes_reference_only_for_its_pairs(tiny_model_dir, tiny_run_data):
    t = make_trainer(tiny_model_dir, tiny_run_data, batch_size=2, max_steps=3, eval_every=0)
    t.prepare()
    assert t.ref is not None and t.ref.computed == 0 and not (tiny_run_data.parent / "ref_logps.pt").exists()
    t.run()
    trained = {i for b in length_grouped_batches(t.data, t.train_idx, 2, seed=0, epoch=0)[:3] for i in b}
    expected = trained | set(t.eval_idx)  # the end-of-run evaluation scores the held-out pairs too
    assert len(trained) == 6 and len(expected) < len(t.data)
    assert {i for i in range(len(t.data)) if t.ref.known[i]} == expected
    assert t.ref.computed == len(expected)
    # the cache file holds those pairs; a resumed run (same data) computes nothing for them again
    again = ReferenceCache(t.model, t.data, chunk_tokens=64, pad_id=t.tokenizer.pad_token_id, model_id=t.cfg.model,
                           path=tiny_run_data.parent / "ref_logps.pt")
    assert torch.equal(again.known, t.ref.known)
    assert torch.equal(again.logps[again.known], t.ref.logps[t.ref.known])


def test_cache_ignores_another_data_sets_file(tiny_model_dir, tiny_run_data):
    t = make_trainer(tiny_model_dir, tiny_run_data, batch_size=2, max_steps=1, eval_every=0, reference="upfront")
    t.prepare()
    assert t.ref.is_complete()
    fewer = make_trainer(tiny_model_dir, tiny_run_data, objectives=["brevity"], batch_size=2, max_steps=1)
    fewer.prepare()  # other pairs, other fingerprint: the file of the first run must not be trusted
    assert fewer.ref.computed == 0 and not bool(fewer.ref.known.any())
    with pytest.raises(RuntimeError, match="never computed"):
        fewer.ref[torch.tensor([0])]


def test_unknown_reference_mode_is_a_readable_problem():
    from workbench.core.run_config import RunConfig

    assert any("reference must be one of lazy, upfront" in p for p in RunConfig(reference="later").problems())


def test_unreadable_cache_file_is_recomputed_not_fatal(tmp_path):
    from workbench.training.engine.data import TokenizedData

    data = TokenizedData(prompt_ids=[[1, 2]], chosen_ids=[[3]], rejected_ids=[[4]], objective=[0], pair_id=[1],
                         split=["train"], objectives=["x"])
    path = tmp_path / "ref_logps.pt"
    path.write_bytes(b"half a file")
    cache = ReferenceCache(None, data, chunk_tokens=8, pad_id=0, model_id="m", path=path)
    assert not bool(cache.known.any())
