"""Run data reading, prompt/completion boundary, truncation counts, length-grouped batching and collation."""

from __future__ import annotations

import json
import random

import pytest
import torch
from transformers import AutoTokenizer

from workbench.core.errors import InputError
from workbench.training.engine.data import (
    PairRow,
    collate,
    length_grouped_batches,
    padding_fraction,
    read_run_data,
    tokenize_pairs,
)


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_read_run_data(tiny_run_data):
    rows = read_run_data(tiny_run_data)
    assert len(rows) == 24
    assert {r.objective for r in rows} == {"brevity", "detail"}
    assert sum(r.split == "eval" for r in rows) == 4
    assert rows[0] == PairRow(1, "brevity", "Tell me about the sea.", "It is the sea.", rows[0].rejected, 2, "train")


def test_read_run_data_bad_line_names_line(tmp_path):
    p = tmp_path / "data.jsonl"
    p.write_text(json.dumps({"pair_id": 1, "objective": "x", "prompt": "a", "chosen": "b", "rejected": "c"})
                 + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"data.jsonl:2: not valid JSON"):
        read_run_data(p)
    p.write_text(json.dumps({"pair_id": 1, "prompt": "a"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r":1: missing field\(s\): objective, chosen, rejected"):
        read_run_data(p)


def test_completion_tokens_are_the_response_with_chat_template(tiny_run_data, tok):
    rows = read_run_data(tiny_run_data)
    data = tokenize_pairs(rows, tok, max_length=256, max_prompt_length=128)
    assert len(data) == 24 and data.dropped_long_prompt == 0 and data.truncated == 0
    assert data.objectives == ["brevity", "detail"]
    for i, row in enumerate(rows):
        assert tok.decode(data.prompt_ids[i]) == f"<|user|>\n{row.prompt}<|endoftext|>\n<|assistant|>\n"
        assert tok.decode(data.chosen_ids[i]) == f"{row.chosen}<|endoftext|>\n"
        assert tok.decode(data.rejected_ids[i]) == f"{row.rejected}<|endoftext|>\n"


def test_completion_tokens_without_chat_template(tiny_run_data, tok):
    plain = AutoTokenizer.from_pretrained(tok.name_or_path)
    plain.chat_template = None
    rows = read_run_data(tiny_run_data)
    data = tokenize_pairs(rows, plain, max_length=256, max_prompt_length=128)
    for i, row in enumerate(rows):
        assert plain.decode(data.prompt_ids[i] + data.chosen_ids[i]) == row.prompt + row.chosen + "<|endoftext|>"
        assert data.chosen_ids[i][-1] == plain.eos_token_id
        # the boundary is the common prefix: prompt ids are a prefix of both full sequences
        assert plain.decode(data.chosen_ids[i][:-1]).strip() in row.chosen


def test_boundary_is_longest_common_prefix_when_bpe_merges_across(tok):
    """'Paris' + ',' with no space: if BPE merged across the boundary the prompt tokens shrink, never overlap."""
    plain = AutoTokenizer.from_pretrained(tok.name_or_path)
    plain.chat_template = None
    row = PairRow(1, "o", "The capital of France is Par", "is.", "is, a city.")
    data = tokenize_pairs([row], plain, max_length=64, max_prompt_length=64)
    full_c = plain(row.prompt + row.chosen)["input_ids"] + [plain.eos_token_id]
    assert data.prompt_ids[0] + data.chosen_ids[0] == full_c
    assert data.prompt_ids[0] == full_c[: len(data.prompt_ids[0])]
    assert len(data.prompt_ids[0]) <= len(plain(row.prompt)["input_ids"])


def test_drop_long_prompt_and_truncate_counts(tok):
    rows = [
        PairRow(1, "o", "word " * 60, "a", "b"),  # prompt far above 20 tokens -> dropped
        PairRow(2, "o", "Hi", "short", "long " * 80),  # rejected above max_length -> truncated
        PairRow(3, "o", "Hi", "ok", "fine"),
    ]
    data = tokenize_pairs(rows, tok, max_length=30, max_prompt_length=20)
    assert data.dropped_long_prompt == 1
    assert data.truncated == 1
    assert data.pair_id == [2, 3]
    assert len(data.prompt_ids[0]) + len(data.rejected_ids[0]) == 30
    assert all(len(p) + max(len(c), len(r)) <= 30
               for p, c, r in zip(data.prompt_ids, data.chosen_ids, data.rejected_ids))


def _varied_data(tok, n=400):
    rng = random.Random(0)
    rows = [PairRow(i, "o", "Hi " * rng.randint(1, 5), "ok " * rng.randint(1, 60), "no " * rng.randint(1, 60))
            for i in range(n)]
    return tokenize_pairs(rows, tok, max_length=512, max_prompt_length=64)


def test_length_grouped_batches_cover_each_index_once_and_pad_less(tok):
    data = _varied_data(tok)
    indices = list(range(len(data)))
    grouped = length_grouped_batches(data, indices, 8, seed=1, epoch=0)
    assert sorted(i for b in grouped for i in b) == indices
    assert all(1 <= len(b) <= 8 for b in grouped)
    rng = random.Random(1)
    shuffled = indices[:]
    rng.shuffle(shuffled)
    plain = [shuffled[i:i + 8] for i in range(0, len(shuffled), 8)]
    pad_grouped, pad_random = padding_fraction(data, grouped), padding_fraction(data, plain)
    # chosen and rejected of one pair differ in length, so some padding is unavoidable even for batches of 1
    floor = padding_fraction(data, [[i] for i in indices])
    assert pad_random - floor > 0.15  # random batching adds a lot of padding on top of that floor ...
    assert pad_grouped - floor < 0.1 * (pad_random - floor), (floor, pad_grouped, pad_random)  # grouping ~none
    # still random: another epoch gives another order; same (seed, epoch) gives the same order
    assert length_grouped_batches(data, indices, 8, seed=1, epoch=1) != grouped
    assert length_grouped_batches(data, indices, 8, seed=1, epoch=0) == grouped


def test_collate_layout(tiny_run_data, tok):
    data = tokenize_pairs(read_run_data(tiny_run_data), tok, max_length=256, max_prompt_length=128)
    b = collate(data, [0, 3], tok.pad_token_id, "cpu")
    assert b.input_ids.shape[0] == 4
    assert b.index.tolist() == [0, 3] and b.objective.tolist() == [0, 1]
    for row, (i, ids) in enumerate([(0, data.chosen_ids), (3, data.chosen_ids), (0, data.rejected_ids),
                                    (3, data.rejected_ids)]):
        n = int(b.attention_mask[row].sum())
        assert b.input_ids[row, :n].tolist() == data.prompt_ids[i] + ids[i]
        assert (b.input_ids[row, n:] == tok.pad_token_id).all()
        comp = b.completion_mask[row].nonzero().flatten().tolist()
        assert b.input_ids[row, comp].tolist() == ids[i]
    assert b.input_ids.dtype == torch.long
