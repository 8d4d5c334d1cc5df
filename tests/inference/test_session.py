"""The worker's pieces in-process: request settings, folder resolution, readable errors, soups."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from tests.inference.conftest import OBJECTIVES, greedy_text, load_base
from workbench.core.errors import RunError
from workbench.inference.generation import GenerationSettings, encode_prompt
from workbench.inference.session import InferenceSession, precision_for
from workbench.inference.steering import checkpoint_folder
from workbench.inference.worker import error_text


def test_settings_defaults_and_greedy():
    s = GenerationSettings.from_request({"temperature": 0, "max_new_tokens": 5, "seed": 3, "top_k": 40})
    assert s.greedy and (s.max_new_tokens, s.seed, s.top_k, s.n) == (5, 3, 40, 1)
    drawn = {GenerationSettings.from_request({}).seed for _ in range(3)}
    assert len(drawn) > 1 and all(0 <= x < 2**31 for x in drawn)  # no seed: a fresh one, reported back


@pytest.mark.parametrize(("data", "message"), [
    ({"temperature": -1}, "temperature must be a number between 0 and 100; got -1"),
    ({"top_p": 0}, "top_p must be above 0 (1 = keep every token); got 0"),
    ({"max_new_tokens": 2.5}, "max_new_tokens must be a whole number between 1 and 1000000; got 2.5"),
    ({"n": 17}, "n must be a whole number between 1 and 16; got 17"),
    ({"seed": "x"}, "seed must be a whole number between 0 and 9223372036854775807; got 'x'"),
    ({"top_k": True}, "top_k must be a whole number between 0 and 1000000; got True"),
])
def test_bad_settings_name_the_setting_and_range(data, message):
    with pytest.raises(RunError) as err:
        GenerationSettings.from_request(data)
    assert str(err.value) == message


def test_precision_for_dtype_settings():
    cpu = torch.device("cpu")
    assert [precision_for(d, cpu) for d in ("auto", "", "float16", "bf16", "fp32")] == [
        "fp32", "fp32", "fp16", "bf16", "fp32"]
    with pytest.raises(RunError, match="unknown dtype 'int4'; use auto, fp32, bf16 or fp16"):
        precision_for("int4", cpu)


def test_checkpoint_folder_resolves_a_run_to_its_latest_checkpoint(tmp_path: Path):
    for step in (9, 10, 2):
        (tmp_path / "checkpoints" / f"step-{step}").mkdir(parents=True)
        (tmp_path / "checkpoints" / f"step-{step}" / "adapter_config.json").write_text("{}")
    (tmp_path / "checkpoints" / "step-11").mkdir()  # unfinished: no adapter yet
    assert checkpoint_folder(str(tmp_path)) == tmp_path / "checkpoints" / "step-10"
    assert checkpoint_folder(str(tmp_path / "checkpoints" / "step-2")) == tmp_path / "checkpoints" / "step-2"
    with pytest.raises(RunError, match="holds no adapter"):
        checkpoint_folder(str(tmp_path / "checkpoints"))
    with pytest.raises(RunError, match="does not exist"):
        checkpoint_folder(str(tmp_path / "nope"))


def test_offline_hub_id_and_other_failures_read_as_one_line(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(RunError) as err:
        InferenceSession("cpu").load({"model": "someorg/not-cached-model"}, lambda *_: None)
    assert str(err.value) == ("could not download someorg/not-cached-model: no internet connection; download it on "
                              "a connected machine or choose a local folder")
    oom = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert error_text(oom, "loading m").startswith("Out of memory loading m: use a smaller model, dtype bf16")
    assert error_text(KeyError("x"), "while generating") == "KeyError while generating: 'x'"


def test_chat_template_is_applied_when_the_tokenizer_has_one(tiny_model_dir):
    _, tokenizer = load_base(tiny_model_dir)
    chat = tokenizer.decode(encode_prompt(tokenizer, "Hi"))
    assert chat == "<|user|>\nHi<|endoftext|>\n<|assistant|>\n"
    tokenizer.chat_template = None
    assert tokenizer.decode(encode_prompt(tokenizer, "Hi")) == "Hi"


def test_soup_with_one_hot_weights_is_that_adapter_alone(tiny_model_dir, soup_adapters):
    from peft import PeftModel

    session = InferenceSession("cpu")
    with pytest.raises(RunError, match="either an adapter"):
        session.load({"model": str(tiny_model_dir), "adapter": "x", "soup_adapters": soup_adapters}, lambda *_: None)
    info = session.load({"model": str(tiny_model_dir), "soup_adapters": soup_adapters}, lambda *_: None)
    assert info["objectives"] == OBJECTIVES and info["weights"] == {"brevity": 0.5, "detail": 0.5}
    prompt, texts = "How do I boil an egg?", {}
    for objective in OBJECTIVES:
        assert session.set_weights({objective: 1.0, "unknown": 3.0}) == ["unknown"]
        pieces: list[str] = []
        samples, _ = session.generate(prompt, GenerationSettings(temperature=0, max_new_tokens=8),
                                      threading.Event(), lambda i, t: pieces.append(t))
        base, tokenizer = load_base(tiny_model_dir)
        alone = PeftModel.from_pretrained(base, soup_adapters[objective]).merge_and_unload()
        assert samples[0].text == "".join(pieces) == greedy_text(alone, tokenizer, prompt, 8)
        texts[objective] = samples[0].text
    assert texts["brevity"] != texts["detail"]


def test_adapter_of_another_base_model_is_a_readable_error(tmp_path, mah_checkpoint):
    from workbench.training.tiny_model import build_tiny_model

    other = build_tiny_model(tmp_path / "narrow", hidden=32)
    with pytest.raises(RunError) as err:
        InferenceSession("cpu").load({"model": str(other), "adapter": str(mah_checkpoint)}, lambda *_: None)
    assert str(err.value) == (f"could not load the adapter in {mah_checkpoint}: its weight shapes do not match "
                              "this model; choose a checkpoint trained on this base model")
