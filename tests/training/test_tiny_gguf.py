"""training/tiny_gguf.py: the tiny model written as GGUF loads back through model_loading with identical numbers."""

from __future__ import annotations

import numpy as np
import torch

from workbench.core.run_config import RunConfig
from workbench.training.engine.model_loading import load_model
from workbench.training.tiny_gguf import llama_cpp_rows, write_gguf


def test_llama_cpp_row_order_interleaves_the_rotary_halves_of_each_head() -> None:
    # 2 heads of 4 rows: transformers pairs rows (0, 2), (1, 3) in a head; llama.cpp stores them as 0, 2, 1, 3.
    w = np.arange(8, dtype=np.float32)[:, None]
    assert llama_cpp_rows(w, 2)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_gguf_of_the_tiny_model_gives_the_same_tokens_and_logits(tiny_model_dir, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    path = write_gguf(tiny_model_dir, tmp_path / "tiny.gguf")
    assert path.read_bytes()[:4] == b"GGUF"
    folder = load_model(RunConfig(model=str(tiny_model_dir), device="cpu"), for_training=False)
    gguf = load_model(RunConfig(model=str(path), device="cpu"), for_training=False)
    assert gguf.info["source"] == "gguf"
    text = "The capital of France is Paris."
    ids = folder.tokenizer(text, return_tensors="pt")["input_ids"]
    assert gguf.tokenizer(text, return_tensors="pt")["input_ids"].tolist() == ids.tolist()
    chat = [{"role": "user", "content": "hi"}]
    assert gguf.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == \
        folder.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    with torch.no_grad():
        a, b = folder.model(ids).logits, gguf.model(ids).logits
    assert a.shape == b.shape == (1, ids.shape[1], folder.model.config.vocab_size)
    assert float((a - b).abs().max()) < 1e-5


def test_row_order_round_trips() -> None:
    heads, w = 4, np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    permuted = llama_cpp_rows(w, heads)
    assert not np.array_equal(permuted, w)
    back = permuted.reshape(heads, 64 // heads // 2, 2, 8).swapaxes(1, 2).reshape(w.shape)  # the loader's inverse
    assert np.array_equal(back, w)
