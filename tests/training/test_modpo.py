"""MODPO (Zhou et al. 2024): the loss against a hand computation, margins from scorers and from an earlier run's
adapter (implicit reward), their cache, and zero margin weights reducing to DPO exactly."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.training.conftest import tiny_rows
from tests.training.test_trainer import make_trainer, metrics
from workbench.core.errors import InputError, RunError
from workbench.core.run_config import RunConfig
from workbench.core.scorer_trust import TRUSTED_ENV, UntrustedScorers, file_sha256
from workbench.training.engine.data import Batch, PairRow, collate, length_grouped_batches, tokenize_pairs
from workbench.training.preference.heads import ObjectiveHeads
from workbench.training.engine.logprobs import SeqLogps, sequence_logps
from workbench.training.engine.lora import attach_lora
from workbench.training.preference.methods import ModpoMethod
from workbench.training.preference.modpo import MARGINS_FILE, margin_table, modpo_problems
from workbench.training.engine.reference import logps_table
from workbench.training.preference.steerable import load_steerable


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_loss_matches_hand_computation():
    """-logσ((1/w_0)(βΔ − Σ_j w_j(r_j(c) − r_j(r)))) with w = (3, 1, 1)/5, β = 0.1, two pairs."""
    cfg = RunConfig(method="modpo", modpo_target="brevity", beta=0.1,
                    margin_scorers={"len": "length_tokens", "help": "length_tokens"},
                    weights={"brevity": 3.0, "help": 1.0, "len": 1.0})
    method = ModpoMethod(cfg, ["brevity"])
    method.margins = torch.tensor([[0.5, 0.5], [-1.0, 2.0]], dtype=torch.float64)  # columns: help, len (sorted)
    ref = torch.tensor([[-11.0, -11.5], [-20.0, -19.0]])
    lp = SeqLogps(sum=torch.tensor([-10.0, -21.0, -12.0, -18.5]), count=torch.tensor([3, 4, 5, 6]))
    empty = torch.zeros(4, 1, dtype=torch.long)
    batch = Batch(empty, empty, empty, objective=torch.tensor([0, 0]), index=torch.tensor([0, 1]))
    loss, m = method.loss(lp, ref, batch)
    # pair 0: Δ = (−10+11) − (−12+11.5) = 1.5; margin = 0.2·0.5 + 0.2·0.5 = 0.2
    # pair 1: Δ = (−21+20) − (−18.5+19) = −1.5; margin = 0.2·(−1) + 0.2·2 = 0.2
    expected = -(_log_sigmoid((0.1 * 1.5 - 0.2) / 0.6) + _log_sigmoid((0.1 * -1.5 - 0.2) / 0.6)) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert expected == pytest.approx((math.log1p(math.exp(1 / 12)) + math.log1p(math.exp(0.35 / 0.6))) / 2)
    assert m["modpo/margin"] == pytest.approx(0.2)
    assert m["rewards/margins"] == pytest.approx(0.0, abs=1e-6)  # plain implicit rewards: β·(1.5 + −1.5)/2
    assert m["brevity/loss"] == pytest.approx(expected, abs=1e-6)
    # the margin's sign: a margin favouring the chosen answer asks more of the policy (higher loss) ...
    method.margins = torch.zeros(2, 2, dtype=torch.float64)
    no_margin, _ = method.loss(lp, ref, batch)
    assert no_margin.item() == pytest.approx(-(_log_sigmoid(0.15 / 0.6) + _log_sigmoid(-0.15 / 0.6)) / 2, abs=1e-6)
    assert loss.item() > no_margin.item()
    # ... and the hinge variant is relu(1 − logit) on the same logit
    method.cfg.losses = {"hinge": 1.0}
    method.margins = torch.tensor([[0.5, 0.5], [-1.0, 2.0]], dtype=torch.float64)
    hinge, _ = method.loss(lp, ref, batch)
    assert hinge.item() == pytest.approx((1 + 1 / 12 + 1 + 0.35 / 0.6) / 2, abs=1e-6)


def test_problems_are_readable():
    cfg = RunConfig(method="modpo", losses={"ipo": 1.0}, margin_adapters={"x": "/nowhere"})
    text = "; ".join(modpo_problems(cfg))
    assert "modpo_target" in text and "remove ipo" in text and "not an adapter folder" in text
    with pytest.raises(RunError, match="no pairs labelled for the MODPO target objective honesty"):
        ModpoMethod.train_rows(RunConfig(method="modpo", modpo_target="honesty",
                                         margin_scorers={"len": "length_tokens"}),
                               [PairRow(1, "brevity", "p", "a", "b")])


def test_scorer_margins_sign_user_scorers_and_cache(tiny_model_dir, tmp_path, monkeypatch):
    """length_tokens is 'minimize', so r = −length and Δr = len(rejected) − len(chosen); a scorers.py in the run
    folder is used once its parent trusts it; the table is cached and reused while the fingerprint matches."""
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [PairRow(r["pair_id"], r["objective"], r["prompt"], r["chosen"], r["rejected"])
            for r in tiny_rows() if r["objective"] == "brevity"]
    data = tokenize_pairs(rows, tok, max_length=64, max_prompt_length=32)
    (tmp_path / "scorers.py").write_text("def score_commas(prompt, response):\n    return response.count(',')\n")
    cfg = RunConfig(model=str(tiny_model_dir), modpo_target="brevity",
                    margin_scorers={"length": "length_tokens", "style": "commas"})
    with pytest.raises(UntrustedScorers):  # the parent passed no trusted hash: the file is never run
        margin_table(None, data, rows, torch.zeros(len(data), 2), cfg, tmp_path, pad_id=0)
    monkeypatch.setenv(TRUSTED_ENV, file_sha256(tmp_path / "scorers.py"))
    table = margin_table(None, data, rows, torch.zeros(len(data), 2), cfg, tmp_path, pad_id=0)
    assert table.shape == (len(data), 2)
    for i, row in enumerate(rows):
        assert table[i, 0] == len(row.rejected.split()) - len(row.chosen.split())  # "length" column
        assert table[i, 1] == row.chosen.count(",") - row.rejected.count(",")  # "style" column
    assert (table[:, 0] > 0).all() and (table[:, 1] < 0).all()
    cached = torch.load(tmp_path / MARGINS_FILE, weights_only=True)
    assert cached["objectives"] == ["length", "style"] and torch.equal(cached["margins"], table)
    # same inputs: read from the cache (with no rows to score, recomputing would fail)
    assert torch.equal(margin_table(None, data, [], None, cfg, tmp_path, pad_id=0), table)
    # an edited scorers.py changes the fingerprint: recomputed, and the user's error names file and line
    (tmp_path / "scorers.py").write_text("def score_commas(prompt, response):\n    return 1 / 0\n")
    with pytest.raises(UntrustedScorers):  # edited: a new hash, trusted again below
        margin_table(None, data, rows, None, cfg, tmp_path, pad_id=0)
    monkeypatch.setenv(TRUSTED_ENV, file_sha256(tmp_path / "scorers.py"))
    with pytest.raises(InputError, match="ZeroDivisionError") as info:
        margin_table(None, data, rows, None, cfg, tmp_path, pad_id=0)
    assert info.value.line == 2


def test_zero_margin_weights_equal_dpo_exactly(tiny_model_dir, tiny_run_data, tmp_path):
    other = tmp_path / "dpo"
    other.mkdir()
    shutil.copy(tiny_run_data, other / "data.jsonl")
    dpo_events: list = []
    dpo = make_trainer(tiny_model_dir, other / "data.jsonl", dpo_events, objectives=["brevity"], max_steps=2)
    dpo.prepare()
    dpo.run()
    modpo_events: list = []
    modpo = make_trainer(tiny_model_dir, tiny_run_data, modpo_events, method="modpo", modpo_target="brevity",
                         margin_scorers={"length": "length_tokens"}, weights={"brevity": 1.0, "length": 0.0},
                         max_steps=2)
    modpo.prepare()
    modpo.run()
    assert modpo.data.objectives == ["brevity"] and modpo.method.margins.abs().min() > 0
    assert metrics(modpo_events) == metrics(dpo_events)  # bit-identical losses
    assert metrics(modpo_events, "grad_norm") == metrics(dpo_events, "grad_norm")


def _earlier_run_adapter(model_dir, root, *, heads: list[str] | None = None):
    """An 'earlier run': a LoRA adapter with random B saved as run/checkpoints/step-1 next to a config (β = 0.5);
    with `heads`, also MAH-DPO heads with random B (a mah_dpo checkpoint)."""
    torch.manual_seed(7)
    model = attach_lora(AutoModelForCausalLM.from_pretrained(model_dir), RunConfig(lora_r=4, seed=7))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    folder = root / "earlier" / "checkpoints" / "step-1"
    model.save_pretrained(str(folder))
    if heads:
        objective_heads = ObjectiveHeads(heads, model.config.hidden_size, 4, seed=2)
        with torch.no_grad():
            objective_heads.B.normal_(0, 0.5)
        objective_heads.save(folder)
    (root / "earlier" / "config.json").write_text(json.dumps({"beta": 0.5}))
    return folder


def test_mah_dpo_checkpoint_margin_uses_its_objective_head(tiny_model_dir, tmp_path):
    """A mah_dpo checkpoint as margin source: r_j = β·(log π_j − log π_ref) with π_j = its trunk + head j,
    the same numbers load_steerable gives with head j alone."""
    folder = _earlier_run_adapter(tiny_model_dir, tmp_path, heads=["brevity", "detail"])
    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    rows = [PairRow(r["pair_id"], r["objective"], r["prompt"], r["chosen"], r["rejected"])
            for r in tiny_rows()[:6] if r["objective"] == "brevity"]
    data = tokenize_pairs(rows, tok, max_length=64, max_prompt_length=32)
    model = attach_lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), RunConfig(lora_r=4))
    ref = logps_table(model, data, batch_size=4, chunk_tokens=64)
    cfg = RunConfig(model=str(tiny_model_dir), modpo_target="brevity", margin_adapters={"detail": str(folder)})
    table = margin_table(model, data, rows, ref, cfg, tmp_path, pad_id=tok.pad_token_id)
    s = load_steerable(str(tiny_model_dir), folder, device="cpu")
    s.set_weights({"detail": 1.0})
    batch = collate(data, list(range(len(data))), tok.pad_token_id, "cpu")
    with torch.no_grad():
        lp = sequence_logps(s.model, batch).sum
        with s.hook.disabled():
            trunk_only = sequence_logps(s.model, batch).sum
    n = len(data)
    expected = 0.5 * ((lp[:n] - ref[:, 0]) - (lp[n:] - ref[:, 1]))
    torch.testing.assert_close(table[:, 0].float(), expected, rtol=0, atol=1e-4)
    assert (lp - trunk_only).abs().max() > 1e-3  # the head matters, so the check above tells them apart


def test_adapter_margin_is_the_implicit_reward(tiny_model_dir, tiny_run_data, tmp_path):
    folder = _earlier_run_adapter(tiny_model_dir, tmp_path)
    events: list = []
    t = make_trainer(tiny_model_dir, tiny_run_data, events, method="modpo", modpo_target="brevity",
                     margin_adapters={"detail": str(folder)}, weights={"brevity": 0.75, "detail": 0.25},
                     max_steps=1, beta=0.1)
    t.prepare()
    # the margin adapter is gone again and only the training adapter is optimised
    assert list(t.model.peft_config) == ["default"]
    trainable = [n for n, p in t.model.named_parameters() if p.requires_grad]
    assert trainable and all(".default." in n for n in trainable)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    earlier = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), folder).eval()
    idx = list(range(len(t.data)))
    batch = collate(t.data, idx, t.tokenizer.pad_token_id, "cpu")
    with torch.no_grad():
        ratio = sequence_logps(earlier, batch).sum - sequence_logps(base, batch).sum
    n = len(idx)
    expected = 0.5 * (ratio[:n] - ratio[n:])  # β of the earlier run, not this run's 0.1
    torch.testing.assert_close(t.method.margins[:, 0].float(), expected, rtol=0, atol=1e-4)
    assert expected.abs().max() > 1e-3
    first_ids = length_grouped_batches(t.data, t.train_idx, 4, seed=0, epoch=0)[0]
    t.run()
    # step 1: policy = reference, so Δ = 0 and each pair's loss is −logσ(−m/w_0) = log(1 + e^{m/w_0}),
    # m = w_1·Δr_1 = 0.25·Δr_1, w_0 = 0.75
    m = 0.25 * expected[first_ids].double()
    assert metrics(events)[0] == pytest.approx(torch.log1p(torch.exp(m / 0.75)).mean().item(), abs=1e-5)
    assert metrics(events)[0] != pytest.approx(math.log(2), abs=1e-3)
    cached = torch.load(tiny_run_data.parent / MARGINS_FILE, weights_only=True)
    torch.testing.assert_close(cached["margins"], t.method.margins.cpu())
    # resume: the cached table is used without touching the model (None would fail if it were recomputed)
    again = margin_table(None, t.data, t.rows, t.ref.table(), t.cfg, tiny_run_data.parent, pad_id=0)
    assert torch.equal(again, cached["margins"])
