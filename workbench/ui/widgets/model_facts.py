"""What the Models panel says about a model: before loading it (its config.json or file, no torch) and once the
inference worker has it (size, precision, device, memory, and what came with it), in words."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.core.entities import ModelInfo

SOURCES = {"local": "Local folder", "gguf": "GGUF file", "hub": "Hub id"}


def model_facts(model: ModelInfo) -> list[tuple[str, str]]:
    """What we can say about a model without loading it (no torch here): its config.json or file size."""
    facts = [("Source", SOURCES.get(model.source, model.source)), ("Location", model.location)]
    path = Path(model.location)
    if model.source == "local":
        try:
            cfg = json.loads((path / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return facts + [("Config", "no readable config.json in this folder")]
        arch = ", ".join(cfg.get("architectures", [])) or cfg.get("model_type", "?")
        facts += [("Architecture", arch)]
        for key, label in (("hidden_size", "Hidden size"), ("num_hidden_layers", "Layers"),
                           ("num_attention_heads", "Attention heads"), ("vocab_size", "Vocabulary"),
                           ("max_position_embeddings", "Context length"), ("torch_dtype", "Stored dtype")):
            if key in cfg:
                facts.append((label, str(cfg[key])))
    elif model.source == "gguf":
        size = path.stat().st_size if path.exists() else None
        facts.append(("File size", f"{size / 2**20:,.1f} MiB" if size is not None else "file not found"))
    else:
        facts.append(("Download", "fetched from the hub when loaded (needs a connection the first time)"))
    return facts


def loaded_text(name: str, data: dict) -> str:
    """The status line once the inference worker has a model: size, precision, device and memory in words, and
    what came with it (an adapter, objective heads, a chat template). `data`: InferenceSession.load's result."""
    parts = []
    if data.get("parameters"):
        n = float(data["parameters"])
        parts.append(f"{n / 1e9:.2f} B parameters" if n >= 1e9 else f"{n / 1e6:.1f} M parameters" if n >= 1e6
                     else f"{int(n):,} parameters")
    where = " on ".join(str(data[k]) for k in ("dtype", "device") if data.get(k))
    if where:
        parts.append(where)
    if data.get("memory"):
        mib = float(data["memory"]) / 2**20
        parts.append(f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.1f} MiB")
    if data.get("context_length"):
        parts.append(f"context {int(data['context_length']):,} tokens")
    text = f"Loaded {name} in the inference worker ({', '.join(parts)})." if parts else f"Loaded {name}."
    if data.get("adapter"):
        text += f" Adapter: {data['adapter']}."
    if data.get("objectives"):
        text += f" Objectives: {', '.join(data['objectives'])}."
    if data.get("chat_template") is False:
        text += " No chat template: prompts are sent as plain text."
    return text
