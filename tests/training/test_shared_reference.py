"""Candidate reference log-probs shared by a project's runs (issue #14): hits and misses by model, dtype and token
ids; concurrent writers merge; a damaged file is ignored; a second run's margin pass computes no reference for
candidates an earlier run scored, and its margins equal a cold pass's."""

from __future__ import annotations

import json

import pytest
import torch

from tests.training.test_margins import BETA, TOL, _write_candidates
from tests.training.test_trainer import make_trainer
from workbench.training.engine import reference_cache
from workbench.training.preference.margins import CANDIDATES_FILE, MARGINS_FILE, read_margins, write_run_margins
from workbench.training.engine.shared_reference import SHARED_DIR, SharedReference, pair_key


def test_hits_need_same_model_dtype_and_token_ids(tmp_path):
    key = pair_key([1, 2], [3], [4, 5])
    assert key != pair_key([1, 2], [3, 4], [5]) and key != pair_key([1], [2, 3], [4, 5])  # boundaries matter
    table = SharedReference(tmp_path, "base", torch.float32)
    table.put(key, -1.5, -2.25)
    table.save()
    assert SharedReference(tmp_path, "base", torch.float32).get(key) == (-1.5, -2.25)
    assert SharedReference(tmp_path, "other", torch.float32).get(key) is None
    assert SharedReference(tmp_path, "base", torch.bfloat16).get(key) is None
    assert SharedReference(tmp_path, "base", torch.float32).get(pair_key([1, 2], [3], [4])) is None


def test_concurrent_writers_merge_and_a_damaged_file_is_ignored(tmp_path):
    a, b = SharedReference(tmp_path, "base", torch.float32), SharedReference(tmp_path, "base", torch.float32)
    a.put(pair_key([1], [2], [3]), -1.0, -2.0)
    b.put(pair_key([1], [2], [4]), -3.0, -4.0)
    a.save()
    b.save()  # b read the file before a wrote it: its save merges a's entry instead of dropping it
    fresh = SharedReference(tmp_path, "base", torch.float32)
    assert len(fresh) == 2 and fresh.get(pair_key([1], [2], [3])) == (-1.0, -2.0)
    fresh.path.write_bytes(b"not a torch file")
    assert len(SharedReference(tmp_path, "base", torch.float32)) == 0


def test_second_run_computes_no_reference_for_candidates_it_has(tiny_model_dir, tmp_path, tiny_run_data,
                                                                monkeypatch):
    calls = {"ref_rows": 0}
    real = reference_cache.batch_reference_logps

    def counting(model, batch, **kw):
        calls["ref_rows"] += batch.index.numel()
        return real(model, batch, **kw)

    monkeypatch.setattr(reference_cache, "batch_reference_logps", counting)
    results = {}
    for name in ("first", "second"):
        run_dir = tmp_path / name  # siblings: one project's runs folder
        run_dir.mkdir()
        (run_dir / "data.jsonl").write_bytes(tiny_run_data.read_bytes())
        _write_candidates(run_dir)
        if name == "second":  # a new unlabelled pair came in since the first run
            with (run_dir / CANDIDATES_FILE).open("a", encoding="utf-8") as f:
                f.write(json.dumps({"pair_id": 105, "objective": "brevity", "prompt": "Tell me about rain.",
                                    "chosen": "Rain is water.", "rejected": "Rain, at length.", "strength": 1,
                                    "split": "candidate"}) + "\n")
        trainer = make_trainer(tiny_model_dir, run_dir / "data.jsonl", max_steps=2, beta=BETA, reference="upfront")
        trainer.prepare()
        trainer.run()
        calls["ref_rows"] = 0
        write_run_margins(trainer, lambda t, **d: None, lambda: False)
        results[name] = (calls["ref_rows"], read_margins(run_dir / MARGINS_FILE), trainer)
    assert results["first"][0] == 4  # 3 candidate pairs, 101 for two objectives: 4 rows, all cold
    assert results["second"][0] == 1  # only pair 105; 101-103 came from the first run's table
    assert (tmp_path / SHARED_DIR).is_dir()
    assert len(SharedReference(tmp_path / SHARED_DIR, str(tiny_model_dir), torch.float32)) == 4
    # the same seed and data train the same adapter: margins from shared references equal the first run's
    first, second = results["first"][1], results["second"][1]
    assert {k: second[k] for k in first} == pytest.approx(first, abs=TOL) and 105 in second


def test_the_table_keeps_the_newest_entries_beyond_its_cap(tmp_path, monkeypatch):
    from workbench.training.engine import shared_reference

    monkeypatch.setattr(shared_reference, "MAX_ENTRIES", 2)
    for i in range(3):
        table = SharedReference(tmp_path, "base", torch.float32)
        table.put(pair_key([i], [1], [2]), -float(i), -1.0)
        table.save()
    fresh = SharedReference(tmp_path, "base", torch.float32)
    assert len(fresh) == 2 and fresh.get(pair_key([0], [1], [2])) is None
    assert fresh.get(pair_key([2], [1], [2])) == (-2.0, -1.0)
