"""The model held by one inference worker: load it (base + optional checkpoint or soup), mix objectives, generate.

Kept free of the protocol so the worker (worker.py) is only about reading commands and writing events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch

from workbench.core.errors import RunError
from workbench.core.run_config import RunConfig
from workbench.core.weights import validate_weights
from workbench.inference.generation import GenerationSettings, Sample, encode_prompt, stream_sample
from workbench.inference.guided_requests import GuideSpec, ScorerCache, run_guided
from workbench.inference.steering import Mixer, checkpoint_folder, load_checkpoint, load_soup
from workbench.training.engine.model_loading import load_model, pick_device

Progress = Callable[[str, float], None]

_DTYPE_NAMES = {"auto": "auto", "": "auto", "fp32": "fp32", "float32": "fp32", "bf16": "bf16", "bfloat16": "bf16",
                "fp16": "fp16", "float16": "fp16"}


def precision_for(dtype: str, device: torch.device) -> str:
    """The RunConfig precision for a model's dtype setting; "auto" = bf16 on GPUs that support it, fp16 on other
    GPUs (half the memory of fp32, the usual choice for inference), fp32 on CPU/MPS (half precision is slow there)."""
    name = _DTYPE_NAMES.get(str(dtype).lower())
    if name is None:
        raise RunError(f"unknown dtype {dtype!r}; use auto, fp32, bf16 or fp16")
    if name != "auto":
        return name
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def model_size(modules: list[torch.nn.Module]) -> tuple[int, int]:
    """(parameters, bytes of parameters + buffers) of everything served: what loading it cost, on any device.
    Tied weights (input embeddings = output head) are one tensor and counted once."""
    seen: set[int] = set()
    params = memory = 0
    for module in modules:
        for t in [*module.parameters(), *module.buffers()]:
            if t.data_ptr() in seen:
                continue
            seen.add(t.data_ptr())
            memory += t.numel() * t.element_size()
            params += t.numel() if isinstance(t, torch.nn.Parameter) else 0
    return params, memory


class InferenceSession:
    """One loaded model and its current objective weights; `generate` runs one request at a time."""

    def __init__(self, device: str = "auto") -> None:
        self.default_device = device
        self.model: Any = None
        self.tokenizer: Any = None
        self.mixer: Mixer | None = None
        self.weights: dict[str, float] = {}
        self.info: dict[str, Any] = {}
        self.scorers = ScorerCache()  # reward models / PRMs that guide generations (guided_requests.py)

    @property
    def loaded(self) -> bool:
        return self.model is not None

    def load(self, spec: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Load the model described by a `load` command; returns the data of its `result`."""
        self.unload()
        device = pick_device(str(spec.get("device") or self.default_device))
        cfg = RunConfig(model=str(spec.get("model") or ""), gguf_file=str(spec.get("gguf_file") or ""),
                        revision=str(spec.get("revision") or ""),
                        trust_remote_code=bool(spec.get("trust_remote_code", False)),
                        allow_pickle=bool(spec.get("allow_pickle", False)),
                        precision=precision_for(str(spec.get("dtype") or "auto"), device), device=str(device))
        adapter, soup = str(spec.get("adapter") or ""), dict(spec.get("soup_adapters") or {})
        if adapter and soup:
            raise RunError("choose either an adapter (a checkpoint) or soup_adapters, not both")
        progress(f"Loading {cfg.model}…", 0.0)
        loaded = load_model(cfg, device=device, for_training=False)
        model, mixer = loaded.model, None
        if adapter:
            adapter = str(checkpoint_folder(adapter))  # reported back: which checkpoint of a run was loaded
            progress("Loading the adapter…", 0.7)
            model, mixer = load_checkpoint(model, adapter)
        elif soup:
            progress("Loading the soup adapters…", 0.7)
            model, mixer = load_soup(model, soup)
        model.to(device)
        model.eval()
        self.model, self.tokenizer, self.mixer = model, loaded.tokenizer, mixer
        objectives = list(mixer.objectives) if mixer is not None else []
        if mixer is not None:  # start where the steering sliders start: every objective alike
            self.set_weights({k: 1.0 / len(objectives) for k in objectives})
        progress("Ready.", 1.0)
        parameters, memory = model_size([model, *(mixer.modules if mixer is not None else [])])
        info = dict(loaded.info)
        info.update(model=cfg.model, parameters=parameters, base_parameters=loaded.info["parameters"],
                    memory=memory, objectives=objectives, weights=dict(self.weights), adapter=adapter,
                    chat_template=bool(getattr(self.tokenizer, "chat_template", None)))
        self.info = info
        return info

    def unload(self) -> None:
        self.model = self.tokenizer = self.mixer = None
        self.weights = {}
        self.scorers.clear()
        self.free_cache()

    @staticmethod
    def free_cache() -> None:
        """Hand cached GPU blocks back (after an unload, or a generation that ran out of memory) so the next
        request starts from what the model itself needs."""
        if torch.cuda.is_available():
            torch.cuda.empty_cache()

    def set_weights(self, weights: dict[str, Any]) -> list[str]:
        """Use `weights` (objective -> weight, normalised to sum 1; missing objectives = 0) for the following generations.
        Returns the names that are not objectives of this model (ignored)."""
        if self.mixer is None:
            raise RunError("this model has no objectives to mix; load a MAH-DPO checkpoint or soup adapters")
        unknown = sorted(str(k) for k in weights if k not in self.mixer.objectives)
        # the one rule (core.weights): finite, >= 0, not all zero, normalised to sum 1
        clean = validate_weights({k: v for k, v in weights.items() if k in self.mixer.objectives},
                                 self.mixer.objectives)
        self.mixer.set_weights(clean)
        self.weights = clean
        return unknown

    def prompt_ids(self, prompt: str, settings: GenerationSettings) -> tuple[list[int], GenerationSettings]:
        """The prompt's token ids, and the settings with max_new_tokens lowered to fit the context window."""
        ids = encode_prompt(self.tokenizer, prompt)
        context = int(self.info.get("context_length") or 0)
        if context:
            room = context - len(ids)
            if room < 1:
                raise RunError(f"the prompt has {len(ids)} tokens but the model's context holds {context}; "
                               "shorten the prompt")
            if settings.max_new_tokens > room:
                settings = GenerationSettings(**{**settings.to_dict(), "max_new_tokens": room})
        return ids, settings

    def generate(self, prompt: str, settings: GenerationSettings, cancel: threading.Event,
                 on_text: Callable[[int, str], None]) -> tuple[list[Sample], GenerationSettings]:
        """settings.n samples one after another (seeds seed, seed+1, ...), each streamed through on_text(i, piece);
        a cancel stops the current sample and skips the rest."""
        if not self.loaded:
            raise RunError("no model is loaded; send load first")
        ids, settings = self.prompt_ids(prompt, settings)
        samples: list[Sample] = []
        for i in range(settings.n):
            if cancel.is_set() and samples:
                break
            samples.append(stream_sample(self.model, self.tokenizer, ids, settings, settings.seed + i, cancel,
                                         lambda piece, i=i: on_text(i, piece)))
        return samples, settings

    def generate_guided(self, prompt: str, settings: GenerationSettings, spec: GuideSpec, cancel: threading.Event,
                        on_piece: Callable[[str, dict[str, Any]], None], progress: Progress) -> dict[str, Any]:
        """One reward-guided generation (guided_requests.py); the scorer is loaded on first use."""
        if not self.loaded:
            raise RunError("no model is loaded; send load first")
        ids, settings = self.prompt_ids(prompt, settings)
        device = next(self.model.parameters()).device
        progress(f"Loading the {'PRM' if spec.mode == 'prm_steps' else 'reward model'}…", 0.0)
        scorer = self.scorers.get(spec.mode, spec.checkpoint, device)
        return run_guided(self.model, self.tokenizer, ids, prompt, settings, spec, scorer, self.weights, cancel,
                          on_piece)
