"""A model folder whose config maps to its own Python file (auto_map) runs that code only with the user's consent
for this load (issue #12): `trust_remote_code = true` stored in a run config or model row is a request, not
consent; the parent passes consent in core.remote_code.CONSENT_ENV."""

from __future__ import annotations

import json
import shutil

import pytest

from workbench.core.errors import RunError
from workbench.core.remote_code import CONSENT_ENV, consent_env, remote_code_allowed, remote_code_request
from workbench.core.run_config import RunConfig
from workbench.training.engine.model_loading import load_model


@pytest.fixture
def custom_code_model(tiny_model_dir, tmp_path):
    """The tiny model plus custom.py (named by auto_map), which leaves a marker file when imported."""
    folder = tmp_path / "custom"
    shutil.copytree(tiny_model_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config.update(model_type="tiny-custom", auto_map={"AutoConfig": "custom.TinyConfig",
                                                      "AutoModelForCausalLM": "custom.TinyModel"})
    (folder / "config.json").write_text(json.dumps(config))
    marker = tmp_path / "RAN"
    (folder / "custom.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).write_text('custom code ran')\n"
        "from transformers import LlamaConfig, LlamaForCausalLM\n"
        "class TinyConfig(LlamaConfig):\n    model_type = 'tiny-custom'\n"
        "class TinyModel(LlamaForCausalLM):\n    config_class = TinyConfig\n")
    return folder, marker


def test_stored_setting_without_consent_runs_nothing(custom_code_model, monkeypatch):
    folder, marker = custom_code_model
    monkeypatch.delenv(CONSENT_ENV, raising=False)
    with pytest.raises(RunError, match="was not confirmed for this load .*is not consent"):
        load_model(RunConfig(model=str(folder), device="cpu", trust_remote_code=True))
    assert not marker.exists()
    monkeypatch.setenv(CONSENT_ENV, json.dumps(["some/other-model"]))  # consent is per model
    with pytest.raises(RunError, match="was not confirmed"):
        load_model(RunConfig(model=str(folder), device="cpu", trust_remote_code=True))
    assert not marker.exists()


def test_consent_for_this_model_lets_its_code_run(custom_code_model, monkeypatch):
    folder, marker = custom_code_model
    monkeypatch.setenv(CONSENT_ENV, consent_env([str(folder)])[CONSENT_ENV])
    lm = load_model(RunConfig(model=str(folder), device="cpu", trust_remote_code=True))
    assert marker.exists() and type(lm.model).__name__ == "TinyModel"


def test_consent_needs_both_the_setting_and_the_answer():
    env = consent_env(["org/model"])
    assert remote_code_allowed(True, "org/model", env)
    assert not remote_code_allowed(False, "org/model", env)  # consent without the setting asks for nothing
    assert not remote_code_allowed(True, "org/model", {})
    assert not remote_code_allowed(True, "org/model", {CONSENT_ENV: "not json"})
    assert remote_code_request({"model": "org/model", "trust_remote_code": True}) == "org/model"
    assert remote_code_request({"model": "org/model", "trust_remote_code": False}) is None
