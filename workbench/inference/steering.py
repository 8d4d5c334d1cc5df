"""What a loaded model can be steered with: MAH-DPO objective heads (mixed by MixingHook) or an adapter soup
(per-objective LoRA adapters combined by weight, workbench.training.preference.soups.make_soup).

Both answer the same two questions for the worker — which objectives can be mixed, and "use these weights from
now on" — so the protocol's set_weights does not care which kind of model is loaded. The heads and soups
themselves belong to the training layer (mo_api.md); this module only finds the folders and calls them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from workbench.core.errors import RunError


class Mixer(Protocol):
    objectives: list[str]
    modules: list[Any]  # weights the mixer holds outside the model (counted in the load result's size)

    def set_weights(self, weights: dict[str, float]) -> None: ...


class HeadMixer:
    """MAH-DPO: a forward pre-hook on the output head mixes the objective heads (one merged head, exact)."""

    def __init__(self, hook: Any, objectives: list[str]) -> None:
        self.hook = hook
        self.objectives = list(objectives)
        self.modules = [hook.heads]

    def set_weights(self, weights: dict[str, float]) -> None:
        self.hook.set_weights(dict(weights))


class SoupMixer:
    """Soup: the per-objective adapters are combined into one weighted adapter, rebuilt on every new weighting."""

    def __init__(self, model: Any, adapters: dict[str, str]) -> None:
        self.model = model  # the PeftModel holding one adapter per objective (soups.soup_model)
        self.adapters = dict(adapters)
        self.objectives = list(adapters)
        self.modules: list[Any] = []  # the adapters live inside the PeftModel

    def set_weights(self, weights: dict[str, float]) -> None:
        from workbench.training.preference.soups import make_soup

        make_soup(self.model, self.adapters, {k: float(weights.get(k, 0.0)) for k in self.objectives})


def checkpoint_folder(path: str) -> Path:
    """The adapter folder to load: `path` itself when it holds adapter_config.json, or the latest checkpoint when
    `path` is a run folder (people pick the run folder more often than run/checkpoints/step-N)."""
    folder = Path(path).expanduser()
    if (folder / "adapter_config.json").is_file():
        return folder
    steps = [(int(p.name.split("-", 1)[1]), p) for p in (folder / "checkpoints").glob("step-*")
             if p.name.split("-", 1)[1].isdigit() and (p / "adapter_config.json").is_file()]
    if steps:
        return max(steps)[1]
    if not folder.exists():
        raise RunError(f"adapter folder {folder} does not exist; choose a run's checkpoint folder")
    raise RunError(f"{folder} holds no adapter (adapter_config.json); choose a run folder or one of its "
                   "checkpoints/step-N folders")


def load_checkpoint(model: Any, path: str) -> tuple[Any, HeadMixer | None]:
    """Wrap the base `model` with the checkpoint's LoRA adapter; MAH-DPO heads saved next to it become a mixer
    (steerable.load_for_inference: a MixingHook on the output head, heads at equal weights)."""
    from workbench.training.preference.steerable import load_for_inference

    folder = checkpoint_folder(path)
    try:
        peft_model, heads, hook = load_for_inference(model, folder)
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise RunError(f"could not load the adapter in {folder}: {_reason(exc)}; choose a checkpoint trained on "
                       "this base model") from None
    if heads is None or hook is None:
        return peft_model, None
    return peft_model, HeadMixer(hook, list(heads.objectives))


def _reason(exc: BaseException) -> str:
    """The gist of a PEFT loading error (torch's state-dict errors put the useful part after a bare header line)."""
    text = str(exc)
    if "size mismatch" in text:
        return "its weight shapes do not match this model"
    lines = [ln.strip().rstrip(":;") for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__


def load_soup(model: Any, adapters: dict[str, str]) -> tuple[Any, SoupMixer]:
    """Wrap the base `model` for a soup of one adapter per objective (each folder resolved like a checkpoint)."""
    if len(adapters) < 2:
        raise RunError("a soup needs adapters of at least two objectives (soup_adapters: {objective: folder})")
    from workbench.training.preference.soups import soup_model

    folders = {str(obj): str(checkpoint_folder(path)) for obj, path in adapters.items()}
    peft_model = soup_model(model, folders)
    return peft_model, SoupMixer(peft_model, folders)
